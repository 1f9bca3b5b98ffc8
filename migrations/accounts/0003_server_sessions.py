from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# Sessions move into the database (accounts.sessions): the cookie carries only a random key.
# The session version on accounts, which signed cookies carried, goes. SQLite (3.35+) drops
# the column in place: Tortoise's SQLite RemoveField rebuilds the table (see store/0006).


class DropColumn(ops.RemoveField):
    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        await state_editor.client.execute_script(
            'ALTER TABLE "accounts_user" DROP COLUMN "session_version"'
        )

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        await state_editor.client.execute_script(
            'ALTER TABLE "accounts_user" ADD COLUMN "session_version" INT NOT NULL DEFAULT 1'
        )


class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('accounts', '0002_token_owner_function')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Session',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('user_agent', fields.CharField(default='', max_length=200)),
                ('address', fields.CharField(default='', max_length=64)),
                ('privileges', fields.CharField(default='', max_length=40)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'accounts_session', 'app': 'accounts', 'indexes': [Index(fields=['user_id', 'last_seen_at'])], 'pk_attr': 'id', 'table_description': "A browser's session (accounts.sessions): the cookie holds a random key, this row only"},
            bases=['Model'],
        ),
        DropColumn(model_name='User', name='session_version'),
    ]
