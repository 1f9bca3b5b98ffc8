from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """Feed items' views, plays and lookups per day, and posts indexed by when written. The
    totals counted before have no day and stay on the items: per-day counts start here."""

    dependencies = [('accounts', '0009_staff_roles_and_audit'), ('community', '0004_folded_keywords')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FeedItemDay',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('item_id', fields.IntField()),
                ('day', fields.DateField()),
                ('views', fields.IntField(default=0)),
                ('plays', fields.IntField(default=0)),
                ('lookups', fields.IntField(default=0)),
            ],
            options={'table': 'community_feed_item_day', 'app': 'community', 'unique_together': (('item_id', 'day'),), 'indexes': [Index(fields=['day', 'item_id'])], 'pk_attr': 'id', 'table_description': 'Views, plays and keyword lookups of one item on one Asia/Shanghai day (counted in'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Post',
            index=Index(fields=['created_at']),
        ),
    ]
