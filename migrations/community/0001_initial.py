from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial')]

    initial = True

    operations = [
        ops.CreateModel(
            name='FeedItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=120)),
                ('body', fields.TextField(unique=False)),
                ('body_html', fields.TextField(unique=False)),
                ('keyword', fields.CharField(max_length=40)),
                ('keyword_key', fields.CharField(db_index=True, max_length=40)),
                ('live_keyword', fields.CharField(null=True, unique=True, max_length=40)),
                ('members_only', fields.BooleanField(default=False)),
                ('publish_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('unpublished', fields.BooleanField(default=False)),
                ('audio_file', fields.CharField(null=True, unique=True, max_length=80)),
                ('audio_type', fields.CharField(null=True, max_length=40)),
                ('audio_bytes', fields.IntField(null=True)),
                ('audio_seconds', fields.FloatField(null=True)),
                ('views', fields.IntField(default=0)),
                ('plays', fields.IntField(default=0)),
                ('lookups', fields.IntField(default=0)),
                ('author', fields.ForeignKeyField('accounts.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='feed_items', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'community_feed_item', 'app': 'community', 'pk_attr': 'id', 'table_description': "One morning's voice or post. Live unless unpublished, visible once publish_at has come."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PodcastFeed',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='podcast_feed', on_delete=OnDelete.CASCADE)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'community_podcast_feed', 'app': 'community', 'pk_attr': 'id', 'table_description': "A person's private podcast feed: the token is signed from (user, version), and a reset bumps"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SearchTerm',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=16)),
                ('ref_id', fields.IntField()),
                ('term', fields.CharField(max_length=64)),
            ],
            options={'table': 'community_search_term', 'app': 'community', 'indexes': [Index(fields=['kind', 'term']), Index(fields=['kind', 'ref_id'])], 'pk_attr': 'id', 'table_description': 'An inverted index: one row per (document, word), words cut by jieba. Works the same on'},
            bases=['Model'],
        ),
    ]
