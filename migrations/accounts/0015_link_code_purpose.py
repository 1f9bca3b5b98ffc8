# A mailed code is for signing in (accounts.devices) or for linking WeChat to the account
# (accounts.link_codes): wrong link codes spend the tries of link codes only.
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0014_sign_in_identities')]

    initial = False

    operations = [
        ops.AddField(
            model_name='LoginCode',
            name='purpose',
            field=fields.CharField(default='sign_in', db_default='sign_in', max_length=10),
        ),
    ]
