from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """Touch's options as the model states them (nothing changes in the database)."""

    dependencies = [('referrals', '0002_share_links')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='Touch',
            options={'table': 'referrals_touch', 'app': 'referrals', 'indexes': [Index(fields=['referrer_id'])], 'pk_attr': 'user_id', 'table_description': "A signed-in person's referrer now: the last share link they came through (last touch),"},
        ),
    ]
