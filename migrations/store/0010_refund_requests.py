from tortoise import migrations
from tortoise.migrations import operations as ops
from store.models import RefundRequestStatus
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0007_profiles_and_notices'), ('store', '0009_shipping_and_sql_files')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RefundRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('store.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='refund_requests', on_delete=OnDelete.CASCADE)),
                ('reason', fields.CharField(max_length=500)),
                ('status', fields.CharEnumField(default=RefundRequestStatus.REQUESTED, description='REQUESTED: requested\nAPPROVED: approved\nREFUSED: refused', enum_type=RefundRequestStatus, max_length=10)),
                ('open_key', fields.IntField(null=True, unique=True)),
                ('note', fields.CharField(default='', max_length=300)),
                ('decided_by', fields.ForeignKeyField('accounts.User', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name='refund_decisions', on_delete=OnDelete.SET_NULL)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'store_refund_request', 'app': 'store', 'pk_attr': 'id', 'table_description': 'A buyer asking for their money back on a paid order. An admin approves (the order is'},
            bases=['Model'],
        ),
    ]
