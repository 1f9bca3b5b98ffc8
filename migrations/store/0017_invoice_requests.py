from tortoise import migrations
from tortoise.migrations import operations as ops
from store.models import InvoiceKind, InvoiceStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """Invoice requests (发票) on paid orders, and the PDF staff attach (issue 37)."""

    dependencies = [('accounts', '0017_outbox_message_token'), ('store', '0016_carrier_and_shipped_at')]

    initial = False

    operations = [
        ops.CreateModel(
            name='InvoiceRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.OneToOneField('store.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='invoice_request', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='invoice_requests', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='PERSONAL: personal\nCOMPANY: company', enum_type=InvoiceKind, max_length=10)),
                ('title', fields.CharField(max_length=100)),
                ('tax_id', fields.CharField(null=True, max_length=20)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('status', fields.CharEnumField(default=InvoiceStatus.REQUESTED, description='REQUESTED: requested\nISSUED: issued', enum_type=InvoiceStatus, max_length=10)),
                ('pdf_name', fields.CharField(null=True, max_length=80)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('issued_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'store_invoice_request', 'app': 'store', 'indexes': [Index(fields=['status', 'requested_at'])], 'pk_attr': 'id', 'table_description': 'A buyer asking for an electronic ordinary invoice (电子普通发票) on a paid order, and the'},
            bases=['Model'],
        ),
    ]
