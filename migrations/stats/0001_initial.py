from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='ExpiryMonth',
            fields=[
                ('month', fields.DateField(primary_key=True, unique=True, db_index=True)),
                ('members', fields.IntField(default=0)),
                ('refreshed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stats_expiry_month', 'app': 'stats', 'pk_attr': 'month', 'table_description': 'How many current memberships end in one Asia/Shanghai month (the first of the month),'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StatsDay',
            fields=[
                ('day', fields.DateField(primary_key=True, unique=True, db_index=True)),
                ('new_accounts', fields.IntField(default=0)),
                ('members', fields.IntField(default=0)),
                ('active_members', fields.IntField(default=0)),
                ('feed_views', fields.IntField(default=0)),
                ('feed_plays', fields.IntField(default=0)),
                ('keyword_lookups', fields.IntField(default=0)),
                ('product_views', fields.IntField(default=0)),
                ('board_posts', fields.IntField(default=0)),
                ('board_replies', fields.IntField(default=0)),
                ('revenue_fen', fields.BigIntField(default=0)),
                ('units_sold', fields.IntField(default=0)),
                ('refunds_fen', fields.BigIntField(default=0)),
                ('refreshed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stats_day', 'app': 'stats', 'pk_attr': 'day', 'table_description': "One Asia/Shanghai day's numbers, recomputed whole from what was recorded (idempotent)."},
            bases=['Model'],
        ),
    ]
