from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    """A random Message-ID token per outbox message, chosen when it is written (issue 36)."""

    dependencies = [('accounts', '0016_wechat_credentials')]

    initial = False

    operations = [
        ops.AddField(
            model_name='OutboxMessage',
            name='message_token',
            field=fields.CharField(null=True, max_length=40),
        ),
    ]
