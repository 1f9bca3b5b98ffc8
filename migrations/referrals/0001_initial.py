from tortoise import migrations
from tortoise.migrations import operations as ops
from referrals.models import EntryKind, PayoutStatus, RewardKind, RuleAppliesTo
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0015_link_code_purpose'), ('payments', '0007_payment_provider')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Payout',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('referrer', fields.ForeignKeyField('accounts.User', source_field='referrer_id', db_constraint=True, to_field='id', related_name='referral_payouts', on_delete=OnDelete.RESTRICT)),
                ('amount_fen', fields.IntField()),
                ('status', fields.CharEnumField(default=PayoutStatus.REQUESTED, description='REQUESTED: requested\nAPPROVED: approved\nREJECTED: rejected', enum_type=PayoutStatus, max_length=10)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decided_by', fields.ForeignKeyField('accounts.User', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name='referral_payouts_decided', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'referrals_payout', 'app': 'referrals', 'indexes': [Index(fields=['referrer_id', 'status']), Index(fields=['status', 'requested_at'])], 'pk_attr': 'id', 'table_description': "A referrer's request to be paid `amount_fen`, and the staff's decision. The money moves"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RewardRule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('applies_kind', fields.CharEnumField(description='PRODUCT: product\nWINDOW: window', enum_type=RuleAppliesTo, max_length=10)),
                ('applies_id', fields.IntField()),
                ('kind', fields.CharEnumField(description='PERCENT: percent\nAMOUNT: amount', enum_type=RewardKind, max_length=10)),
                ('value', fields.IntField()),
                ('members_only', fields.BooleanField(default=False)),
                ('active_key', fields.CharField(null=True, unique=True, max_length=40)),
                ('created_by', fields.ForeignKeyField('accounts.User', source_field='created_by_id', db_constraint=True, to_field='id', related_name='reward_rules', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('retired_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referrals_reward_rule', 'app': 'referrals', 'indexes': [Index(fields=['applies_kind', 'applies_id'])], 'pk_attr': 'id', 'table_description': 'What the referrer of a paid purchase of one thing earns. Rules are never deleted (the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('referrer', fields.ForeignKeyField('accounts.User', source_field='referrer_id', db_constraint=True, to_field='id', related_name='referral_ledger', on_delete=OnDelete.RESTRICT)),
                ('payment', fields.ForeignKeyField('payments.Payment', source_field='payment_id', null=True, db_constraint=True, to_field='id', related_name='referral_entries', on_delete=OnDelete.RESTRICT)),
                ('rule', fields.ForeignKeyField('referrals.RewardRule', source_field='rule_id', null=True, db_constraint=True, to_field='id', related_name='entries', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='CREDIT: credit\nREVERSAL: reversal\nPAYOUT: payout', enum_type=EntryKind, max_length=10)),
                ('amount_fen', fields.IntField()),
                ('available_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('once_key', fields.CharField(unique=True, max_length=60)),
                ('note', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'referrals_ledger_entry', 'app': 'referrals', 'indexes': [Index(fields=['referrer_id', 'available_at']), Index(fields=['payment_id']), Index(fields=['created_at'])], 'pk_attr': 'id', 'table_description': 'One movement of a referrer\'s reward money. Invariant "append-only": an entry is'},
            bases=['Model'],
        ),
    ]
