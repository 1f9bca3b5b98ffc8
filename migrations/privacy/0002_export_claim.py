from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0020_consents_and_leaving'), ('privacy', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='DataExport',
            name='claimed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
