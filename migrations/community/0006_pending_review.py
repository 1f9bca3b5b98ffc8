from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    """Posts and replies held by a watched word for review (issue 38)."""

    dependencies = [('community', '0005_feed_item_days')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Post',
            name='pending_review',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Reply',
            name='pending_review',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
