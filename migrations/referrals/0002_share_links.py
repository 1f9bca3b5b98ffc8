from tortoise import migrations
from tortoise.migrations import operations as ops
from referrals.models import ReferredKind, SharedKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """Share links, their visits per day and source, the last link each person came through
    (last-touch attribution) and who referred each sign-up and paid purchase (issue 35)."""

    dependencies = [('accounts', '0016_wechat_credentials'), ('payments', '0007_payment_provider'), ('referrals', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ShareLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=12)),
                ('sharer', fields.ForeignKeyField('accounts.User', source_field='sharer_id', db_constraint=True, to_field='id', related_name='share_links', on_delete=OnDelete.CASCADE)),
                ('object_type', fields.CharEnumField(description='FEED_ITEM: feed_item\nPOST: post\nPRODUCT: product\nWINDOW: window', enum_type=SharedKind, max_length=10)),
                ('object_id', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referrals_share_link', 'app': 'referrals', 'unique_together': (('sharer_id', 'object_type', 'object_id'),), 'pk_attr': 'id', 'table_description': "One person's short link to one thing: /s/<code>. The same person sharing the same thing"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LinkDay',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('link', fields.ForeignKeyField('referrals.ShareLink', source_field='link_id', db_constraint=True, to_field='id', related_name='days', on_delete=OnDelete.CASCADE)),
                ('day', fields.DateField()),
                ('source', fields.CharField(max_length=10)),
                ('visits', fields.IntField(default=0)),
            ],
            options={'table': 'referrals_link_day', 'app': 'referrals', 'unique_together': (('link_id', 'day', 'source'),), 'pk_attr': 'id', 'table_description': 'Visits through one link on one Asia/Shanghai day from one source: counted in memory and'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Referral',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='SIGNUP: signup\nORDER: order\nENROLLMENT: enrollment', enum_type=ReferredKind, max_length=10)),
                ('subject_id', fields.IntField()),
                ('referred', fields.ForeignKeyField('accounts.User', source_field='referred_id', db_constraint=True, to_field='id', related_name='referrals_received', on_delete=OnDelete.CASCADE)),
                ('referrer', fields.ForeignKeyField('accounts.User', source_field='referrer_id', db_constraint=True, to_field='id', related_name='referrals_made', on_delete=OnDelete.CASCADE)),
                ('link', fields.ForeignKeyField('referrals.ShareLink', source_field='link_id', db_constraint=True, to_field='id', related_name='referrals', on_delete=OnDelete.CASCADE)),
                ('source', fields.CharField(max_length=10)),
                ('payment', fields.ForeignKeyField('payments.Payment', source_field='payment_id', null=True, db_constraint=True, to_field='id', related_name='referrals', on_delete=OnDelete.RESTRICT)),
                ('amount_fen', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referrals_referral', 'app': 'referrals', 'unique_together': (('kind', 'subject_id'),), 'indexes': [Index(fields=['link_id', 'kind']), Index(fields=['referrer_id', 'kind']), Index(fields=['created_at'])], 'pk_attr': 'id', 'table_description': 'Who referred a sign-up, an order or an enrollment, and through which link: written once'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Touch',
            fields=[
                ('user', fields.OneToOneField('accounts.User', source_field='user_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='referral_touch', on_delete=OnDelete.CASCADE)),
                ('link', fields.ForeignKeyField('referrals.ShareLink', source_field='link_id', db_constraint=True, to_field='id', related_name='touches', on_delete=OnDelete.CASCADE)),
                ('referrer', fields.ForeignKeyField('accounts.User', source_field='referrer_id', db_constraint=True, to_field='id', related_name='referral_touches_made', on_delete=OnDelete.CASCADE)),
                ('source', fields.CharField(max_length=10)),
                ('touched_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referrals_touch', 'app': 'referrals', 'indexes': [Index(fields=['referrer_id'])], 'pk_attr': 'user_id', 'table_description': "A signed-in person's referrer now: the last share link they came through (last touch),"},
            bases=['Model'],
        ),
    ]
