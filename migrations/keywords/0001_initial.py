from tortoise import migrations
from tortoise.migrations import operations as ops
from keywords.models import MatchMode, ReplyKind, ReplyMode
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0013_activity_kind_index')]

    initial = True

    operations = [
        ops.CreateModel(
            name='AutoReply',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('mode', fields.CharEnumField(default=ReplyMode.ALL, description='ALL: all\nRANDOM_ONE: random_one', enum_type=ReplyMode, max_length=12)),
                ('created_by', fields.ForeignKeyField('accounts.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='auto_replies', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('hits', fields.IntField(default=0)),
            ],
            options={'table': 'keywords_auto_reply', 'app': 'keywords', 'pk_attr': 'id', 'table_description': "An admin's answer to keywords: its keywords, its replies, and whether it answers with all"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AutoReplyAnswer',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('rule', fields.ForeignKeyField('keywords.AutoReply', source_field='rule_id', db_constraint=True, to_field='id', related_name='answers', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
                ('kind', fields.CharEnumField(description='TEXT: text\nPRODUCT: product\nWINDOW: window\nPOST: post\nFEED_ITEM: feed_item', enum_type=ReplyKind, max_length=10)),
                ('text', fields.CharField(null=True, max_length=1000)),
                ('target_id', fields.IntField(null=True)),
            ],
            options={'table': 'keywords_auto_reply_answer', 'app': 'keywords', 'unique_together': (('rule', 'position'),), 'pk_attr': 'id', 'table_description': 'One reply of a rule, in its place: a text, or what it names (a product, a post, a feed'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AutoReplyKeyword',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('rule', fields.ForeignKeyField('keywords.AutoReply', source_field='rule_id', db_constraint=True, to_field='id', related_name='keywords', on_delete=OnDelete.CASCADE)),
                ('text', fields.CharField(max_length=40)),
                ('key', fields.CharField(unique=True, max_length=40)),
                ('match', fields.CharEnumField(default=MatchMode.EQUAL, description='EQUAL: equal\nCONTAIN: contain', enum_type=MatchMode, max_length=8)),
            ],
            options={'table': 'keywords_auto_reply_keyword', 'app': 'keywords', 'indexes': [Index(fields=['rule_id'])], 'pk_attr': 'id', 'table_description': 'One keyword of a rule, as typed and folded. Invariant "one rule per keyword": `key` (the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='KeywordMiss',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField()),
                ('key', fields.CharField(max_length=100)),
                ('sample', fields.CharField(max_length=100)),
                ('count', fields.IntField(default=0)),
                ('last_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'keywords_miss', 'app': 'keywords', 'unique_together': (('day', 'key'),), 'pk_attr': 'id', 'table_description': 'Lookups of one folded keyword that nothing answered, on one Asia/Shanghai day, with the'},
            bases=['Model'],
        ),
    ]
