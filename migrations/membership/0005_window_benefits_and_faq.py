from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0008_login_codes_and_mail_requests'), ('membership', '0004_window_reminders')]

    initial = False

    operations = [
        ops.AddField(
            model_name='EnrollmentWindow',
            name='benefits',
            field=fields.JSONField(default=list, db_default=[], encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='EnrollmentWindow',
            name='faq',
            field=fields.JSONField(default=list, db_default=[], encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
