from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from moderation.models import ReviewReason, ReviewStatus, WordAction
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0017_outbox_message_token')]

    initial = True

    operations = [
        ops.CreateModel(
            name='ReviewItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=20)),
                ('object_id', fields.IntField()),
                ('author', fields.ForeignKeyField('accounts.User', source_field='author_id', db_constraint=True, to_field='id', related_name='review_items', on_delete=OnDelete.CASCADE)),
                ('reason', fields.CharEnumField(description='HELD: held\nFLAGGED: flagged\nNEW_AVATAR: new_avatar', enum_type=ReviewReason, max_length=20)),
                ('words', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('excerpt', fields.CharField(default='', max_length=300)),
                ('status', fields.CharEnumField(default=ReviewStatus.WAITING, description='WAITING: waiting\nAPPROVED: approved\nREJECTED: rejected', enum_type=ReviewStatus, max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decided_by', fields.ForeignKeyField('accounts.User', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name='review_decisions', on_delete=OnDelete.SET_NULL)),
                ('note', fields.CharField(default='', max_length=300)),
            ],
            options={'table': 'moderation_review_item', 'app': 'moderation', 'indexes': [Index(fields=['status', 'created_at']), Index(fields=['kind', 'object_id'])], 'pk_attr': 'id', 'table_description': 'Something waiting for a moderator: `kind` and `object_id` name it (its package says'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WatchedWord',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('word', fields.CharField(unique=True, max_length=100)),
                ('folded', fields.CharField(max_length=200)),
                ('action', fields.CharEnumField(description='BLOCK: block\nCENSOR: censor\nREQUIRE_APPROVAL: require_approval\nFLAG: flag', enum_type=WordAction, max_length=20)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_by', fields.ForeignKeyField('accounts.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='watched_words', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'moderation_watched_word', 'app': 'moderation', 'indexes': [Index(fields=['action', 'word'])], 'pk_attr': 'id', 'table_description': 'One watched word (as an admin wrote it: lists show and export it so) with one action.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WatchedWordsVersion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('version', fields.BigIntField(default=0)),
            ],
            options={'table': 'moderation_words_version', 'app': 'moderation', 'pk_attr': 'id', 'table_description': 'One row (id 1): raised in the transaction of every change to the lists. Each worker'},
            bases=['Model'],
        ),
    ]
