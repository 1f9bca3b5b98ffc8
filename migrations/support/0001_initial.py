from tortoise import migrations
from tortoise.migrations import operations as ops
from support.models import ConversationStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0013_activity_kind_index')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Conversation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='support_conversations', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(default=ConversationStatus.WAITING, description='WAITING: waiting\nANSWERED: answered\nCLOSED: closed', enum_type=ConversationStatus, max_length=10)),
                ('waiting_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('first_message_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('first_response_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_message_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_message_id', fields.IntField(null=True)),
            ],
            options={'table': 'support_conversation', 'app': 'support', 'indexes': [Index(fields=['status', 'waiting_since']), Index(fields=['user_id', 'last_message_at']), Index(fields=['status', 'last_message_at']), Index(fields=['first_message_at'])], 'pk_attr': 'id', 'table_description': "A member's thread with customer service. `waiting_since` is when the member's oldest"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('conversation', fields.ForeignKeyField('support.Conversation', source_field='conversation_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('accounts.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='support_messages', on_delete=OnDelete.SET_NULL)),
                ('from_staff', fields.BooleanField()),
                ('body', fields.TextField(unique=False)),
                ('picture', fields.CharField(null=True, max_length=40)),
                ('picture_width', fields.IntField(null=True)),
                ('picture_height', fields.IntField(null=True)),
                ('page', fields.CharField(null=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'support_message', 'app': 'support', 'indexes': [Index(fields=['conversation_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One message of a conversation, by its member or by a staff member (`from_staff`). A'},
            bases=['Model'],
        ),
    ]
