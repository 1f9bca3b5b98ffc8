from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Renewal reminders 30 and 7 days before a membership ends (issue 34): which of them a
    member was last sent for their valid-until. A member reminded before it was sent the
    30-day one (the only one there was)."""

    dependencies = [('membership', '0006_window_minutes_and_grant_index')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Member',
            name='reminded_days',
            field=fields.SmallIntField(null=True),
        ),
        ops.RunSQL(
            "UPDATE membership_member SET reminded_days = 30 WHERE reminded_for_until IS NOT NULL",
            reverse_sql="SELECT 1",
        ),
    ]
