from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('community', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BoardBan',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='board_ban', on_delete=OnDelete.CASCADE)),
                ('until', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reason', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'community_board_ban', 'app': 'community', 'pk_attr': 'id', 'table_description': 'A member who may not post, reply or like until `until`.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BoardCategory',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('slug', fields.CharField(unique=True, max_length=30)),
                ('name', fields.CharField(max_length=30)),
            ],
            options={'table': 'community_board_category', 'app': 'community', 'pk_attr': 'id', 'table_description': 'A board category beyond the built-in ones (job, hiring, knowledge, question).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BoardSettings',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('members_only_read', fields.BooleanField(default=False)),
            ],
            options={'table': 'community_board_settings', 'app': 'community', 'pk_attr': 'id', 'table_description': "The board's switches, one row (id 1)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Post',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('author', fields.ForeignKeyField('accounts.User', source_field='author_id', db_constraint=True, to_field='id', related_name='posts', on_delete=OnDelete.CASCADE)),
                ('category', fields.CharField(db_index=True, max_length=30)),
                ('title', fields.CharField(max_length=120)),
                ('body', fields.TextField(unique=False)),
                ('body_html', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('edited_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_activity_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('reply_count', fields.IntField(default=0)),
                ('like_count', fields.IntField(default=0)),
                ('hidden', fields.BooleanField(default=False)),
                ('locked', fields.BooleanField(default=False)),
                ('pinned', fields.BooleanField(default=False)),
                ('deleted', fields.BooleanField(default=False)),
                ('dedupe_key', fields.CharField(null=True, unique=True, max_length=80)),
            ],
            options={'table': 'community_post', 'app': 'community', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PostLike',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('post', fields.ForeignKeyField('community.Post', source_field='post_id', db_constraint=True, to_field='id', related_name='likes', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='post_likes', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'community_post_like', 'app': 'community', 'unique_together': (('post', 'user'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PostReport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('post', fields.ForeignKeyField('community.Post', source_field='post_id', db_constraint=True, to_field='id', related_name='reports', on_delete=OnDelete.CASCADE)),
                ('reporter', fields.ForeignKeyField('accounts.User', source_field='reporter_id', db_constraint=True, to_field='id', related_name='post_reports', on_delete=OnDelete.CASCADE)),
                ('reason', fields.CharField(max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('resolved', fields.BooleanField(default=False)),
            ],
            options={'table': 'community_post_report', 'app': 'community', 'unique_together': (('post', 'reporter'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PostRevision',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('post', fields.ForeignKeyField('community.Post', source_field='post_id', db_constraint=True, to_field='id', related_name='revisions', on_delete=OnDelete.CASCADE)),
                ('title', fields.CharField(max_length=120)),
                ('body', fields.TextField(unique=False)),
                ('written_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'community_post_revision', 'app': 'community', 'pk_attr': 'id', 'table_description': 'The text of a post before an edit, oldest first: edits keep their history.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Reply',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('post', fields.ForeignKeyField('community.Post', source_field='post_id', db_constraint=True, to_field='id', related_name='replies', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('accounts.User', source_field='author_id', db_constraint=True, to_field='id', related_name='replies', on_delete=OnDelete.CASCADE)),
                ('body', fields.TextField(unique=False)),
                ('body_html', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('hidden', fields.BooleanField(default=False)),
                ('dedupe_key', fields.CharField(null=True, unique=True, max_length=80)),
            ],
            options={'table': 'community_reply', 'app': 'community', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
