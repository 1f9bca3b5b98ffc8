from tortoise import migrations
from tortoise.migrations import operations as ops
from payments.models import PaymentStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Payment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='payments', on_delete=OnDelete.RESTRICT)),
                ('purpose', fields.CharField(max_length=40)),
                ('subject_id', fields.CharField(max_length=64)),
                ('amount_fen', fields.IntField()),
                ('currency', fields.CharField(default='cny', max_length=3)),
                ('status', fields.CharEnumField(default=PaymentStatus.PENDING, description='PENDING: pending\nREQUIRES_ACTION: requires_action\nSUCCEEDED: succeeded\nFAILED: failed\nREFUNDED: refunded', enum_type=PaymentStatus, max_length=20)),
                ('active_key', fields.CharField(null=True, unique=True, max_length=120)),
                ('provider_intent_id', fields.CharField(null=True, unique=True, max_length=100)),
                ('client_secret', fields.CharField(null=True, max_length=200)),
                ('failure_code', fields.CharField(null=True, max_length=60)),
                ('failure_message', fields.CharField(null=True, max_length=300)),
                ('refunded_fen', fields.IntField(default=0)),
                ('fulfilled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'payments_payment', 'app': 'payments', 'indexes': [Index(fields=['status', 'updated_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_id', fields.CharField(unique=True, max_length=100)),
                ('type', fields.CharField(max_length=80)),
                ('payment_id', fields.IntField(null=True)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payments_webhook_event', 'app': 'payments', 'pk_attr': 'id', 'table_description': 'Each provider event id is stored once: a replayed or duplicated delivery is ignored.'},
            bases=['Model'],
        ),
    ]
