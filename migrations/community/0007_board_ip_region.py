from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    """IP属地 of each board post and reply, from the address it was written from (never the
    address); none for those written before."""

    dependencies = [('community', '0006_pending_review')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Post',
            name='ip_region',
            field=fields.CharField(null=True, max_length=20),
        ),
        ops.AddField(
            model_name='Reply',
            name='ip_region',
            field=fields.CharField(null=True, max_length=20),
        ),
    ]
