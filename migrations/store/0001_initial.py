from tortoise import migrations
from tortoise.migrations import operations as ops
from store.models import OrderStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Category',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=40)),
                ('position', fields.IntField(default=0)),
            ],
            options={'table': 'store_category', 'app': 'store', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Order',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(default=OrderStatus.PENDING_PAYMENT, description='PENDING_PAYMENT: pending_payment\nPAID: paid\nSHIPPED: shipped\nDELIVERED: delivered\nCANCELLED: cancelled\nREFUNDED: refunded', enum_type=OrderStatus, max_length=20)),
                ('total_fen', fields.IntField()),
                ('hold_expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('payment_id', fields.IntField(null=True)),
                ('ship_name', fields.CharField(null=True, max_length=40)),
                ('ship_phone', fields.CharField(null=True, max_length=20)),
                ('ship_address', fields.CharField(null=True, max_length=200)),
                ('tracking_number', fields.CharField(null=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'store_order', 'app': 'store', 'indexes': [Index(fields=['status', 'hold_expires_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('store.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(description='PENDING_PAYMENT: pending_payment\nPAID: paid\nSHIPPED: shipped\nDELIVERED: delivered\nCANCELLED: cancelled\nREFUNDED: refunded', enum_type=OrderStatus, max_length=20)),
                ('note', fields.CharField(default='', max_length=200)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'store_order_event', 'app': 'store', 'pk_attr': 'id', 'table_description': "An order's status history: each change, when, and a note (a tracking number...)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Product',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=120)),
                ('description', fields.TextField(default='', unique=False)),
                ('category', fields.ForeignKeyField('store.Category', source_field='category_id', db_constraint=True, to_field='id', related_name='products', on_delete=OnDelete.RESTRICT)),
                ('price_fen', fields.IntField()),
                ('stock', fields.IntField()),
                ('per_customer_limit', fields.IntField(null=True)),
                ('members_only', fields.BooleanField(default=False)),
                ('member_head_start_minutes', fields.IntField(default=0)),
                ('sale_starts_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sale_ends_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'store_product', 'app': 'store', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Allowance',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product', fields.ForeignKeyField('store.Product', source_field='product_id', db_constraint=True, to_field='id', related_name='allowances', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='allowances', on_delete=OnDelete.CASCADE)),
                ('units', fields.IntField(default=0)),
            ],
            options={'table': 'store_allowance', 'app': 'store', 'unique_together': (('product', 'user'),), 'pk_attr': 'id', 'table_description': 'Units a customer holds or bought of a limited product. Invariant "per-customer limit":'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('store.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='items', on_delete=OnDelete.CASCADE)),
                ('product', fields.ForeignKeyField('store.Product', source_field='product_id', db_constraint=True, to_field='id', related_name='order_items', on_delete=OnDelete.RESTRICT)),
                ('quantity', fields.IntField()),
                ('unit_price_fen', fields.IntField()),
            ],
            options={'table': 'store_order_item', 'app': 'store', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StockUnit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product', fields.ForeignKeyField('store.Product', source_field='product_id', db_constraint=True, to_field='id', related_name='units', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('order_id', fields.IntField(null=True)),
            ],
            options={'table': 'store_unit', 'app': 'store', 'unique_together': (('product', 'number'),), 'indexes': [Index(fields=['product_id', 'order_id'])], 'pk_attr': 'id', 'table_description': 'One row per unit for sale. Invariant "never oversell": a unit belongs to at most one'},
            bases=['Model'],
        ),
    ]
