from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='JobRun',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=80)),
                ('last_started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_succeeded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_failed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'jobs_run', 'app': 'jobs', 'pk_attr': 'name', 'table_description': 'The latest run of one periodic job (jobs.schedule.PERIODIC), in either engine: the'},
            bases=['Model'],
        ),
    ]
