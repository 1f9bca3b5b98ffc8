from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0007_profiles_and_notices'), ('membership', '0003_seat_function')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WindowReminder',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('window', fields.ForeignKeyField('membership.EnrollmentWindow', source_field='window_id', db_constraint=True, to_field='id', related_name='reminders', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='window_reminders', on_delete=OnDelete.CASCADE)),
                ('notified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'membership_window_reminder', 'app': 'membership', 'unique_together': (('window', 'user'),), 'pk_attr': 'id', 'table_description': 'Someone who asked to be told when an upcoming window opens (membership.reminders).'},
            bases=['Model'],
        ),
    ]
