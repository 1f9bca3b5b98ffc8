from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from accounts.models import NoticeChannel
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0006_password_resets')]

    initial = False

    operations = [
        ops.CreateModel(
            name='NoticeChoice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='notice_choices', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=40)),
                ('channel', fields.CharEnumField(description='INBOX: inbox\nINBOX_AND_MAIL: inbox_mail\nNOTHING: nothing', enum_type=NoticeChannel, max_length=12)),
            ],
            options={'table': 'accounts_notice_choice', 'app': 'accounts', 'unique_together': (('user', 'kind'),), 'pk_attr': 'id', 'table_description': "How one person wants to be told of one kind of notice (no row: the kind's default)."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Notification',
            name='params',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='headers',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='User',
            name='avatar_version',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='User',
            name='bio',
            field=fields.CharField(default='', max_length=280),
        ),
        ops.AddField(
            model_name='User',
            name='email_verified_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='User',
            name='locale',
            field=fields.CharField(null=True, max_length=10),
        ),
    ]
