"""What the operator reads of the periodic jobs: when each last ran, and how it ended."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class JobRun(Model):
    """The latest run of one periodic job (jobs.schedule.PERIODIC), in either engine: the
    jobs page and /metrics flag a job whose last success is more than three periods old."""

    name = fields.CharField(max_length=80, primary_key=True)
    last_started_at = fields.DatetimeField(null=True)
    last_succeeded_at = fields.DatetimeField(null=True)
    last_failed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "jobs_run"
