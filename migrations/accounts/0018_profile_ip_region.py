from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    """IP属地 on a person's profile: the region of their latest post or reply (account-information
    rules of 2022, art. 12); none for everyone until they write."""

    dependencies = [('accounts', '0017_outbox_message_token')]

    initial = False

    operations = [
        ops.AddField(
            model_name='User',
            name='ip_region',
            field=fields.CharField(null=True, max_length=20),
        ),
    ]
