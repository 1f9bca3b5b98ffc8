from tortoise import migrations
from tortoise.migrations import operations as ops
from accounts.models import IdentityKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


# An account made with WeChat or a phone number has no email: the column becomes nullable.
# PostgreSQL drops the NOT NULL in place. On SQLite, Tortoise 1.1.9 alters a column by
# rebuilding the table, which the rows of other tables pointing at accounts_user refuse (and
# the rebuild would lose the table's other indexes). Removing a NOT NULL does not change what
# is on disk, so SQLite's own documented way is used instead: the table's definition is
# rewritten in sqlite_schema (https://www.sqlite.org/lang_altertable.html, "making other kinds
# of table schema changes", the changes that leave the disk as it is).
SQLITE_EMAIL_BEFORE = '"email" VARCHAR(254) NOT NULL UNIQUE'
SQLITE_EMAIL_AFTER = '"email" VARCHAR(254) UNIQUE'


async def _rewrite_sqlite_user(client, before: str, after: str) -> None:
    # Every statement through execute_query: execute_script would commit the migration's
    # transaction first (sqlite3's executescript does), leaving it half applied on a failure.
    _, rows = await client.execute_query(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'accounts_user'"
    )
    sql = rows[0]["sql"]
    if before not in sql:
        raise RuntimeError(f"accounts_user is not as expected: {sql}")
    _, version = await client.execute_query("PRAGMA schema_version")
    number = int(version[0]["schema_version"])
    await client.execute_query("PRAGMA writable_schema = ON")
    await client.execute_query(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'accounts_user'",
        [sql.replace(before, after)],
    )
    await client.execute_query(f"PRAGMA schema_version = {number + 1}")
    await client.execute_query("PRAGMA writable_schema = OFF")
    _, check = await client.execute_query("PRAGMA integrity_check")
    if check[0]["integrity_check"] != "ok":
        raise RuntimeError(f"accounts_user after the rewrite: {check}")


class EmailMayBeNone(ops.AlterField):
    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is None:
            return
        if state_editor.client.capabilities.dialect == "postgres":
            await super().database_forward(app_label, old_state, new_state, state_editor)
        else:
            await _rewrite_sqlite_user(
                state_editor.client, SQLITE_EMAIL_BEFORE, SQLITE_EMAIL_AFTER
            )

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is None:
            return
        if state_editor.client.capabilities.dialect == "postgres":
            await super().database_backward(app_label, old_state, new_state, state_editor)
        else:
            await _rewrite_sqlite_user(
                state_editor.client, SQLITE_EMAIL_AFTER, SQLITE_EMAIL_BEFORE
            )

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('accounts', '0002_token_owner_function'), ('accounts', '0003_server_sessions'), ('accounts', '0004_identity_report'), ('accounts', '0005_outbox'), ('accounts', '0006_password_resets'), ('accounts', '0007_profiles_and_notices'), ('accounts', '0008_login_codes_and_mail_requests'), ('accounts', '0009_staff_roles_and_audit'), ('accounts', '0010_activity_and_indexes'), ('accounts', '0011_consents'), ('accounts', '0012_outbox_recipient_index'), ('accounts', '0013_activity_kind_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Identity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='identities', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='WECHAT: wechat\nPHONE: phone', enum_type=IdentityKind, max_length=10)),
                ('subject', fields.CharField(max_length=120)),
                ('label', fields.CharField(default='', max_length=60)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'accounts_identity', 'app': 'accounts', 'unique_together': (('kind', 'subject'),), 'indexes': [Index(fields=['user_id', 'kind'])], 'pk_attr': 'id', 'table_description': 'A way into an account other than its email and password (accounts.sign_in_methods):'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PhoneAddress',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('phone', fields.CharField(max_length=16)),
                ('address_hash', fields.CharField(max_length=64)),
                ('last_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'accounts_phone_address', 'app': 'accounts', 'unique_together': (('phone', 'address_hash'),), 'pk_attr': 'id', 'table_description': 'An address that signed in to a number before: its code requests are not held to the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PhoneCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('phone', fields.CharField(max_length=16)),
                ('code_hash', fields.CharField(max_length=64)),
                ('address_hash', fields.CharField(max_length=64)),
                ('tries', fields.IntField(default=0)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'accounts_phone_code', 'app': 'accounts', 'indexes': [Index(fields=['phone', 'id'])], 'pk_attr': 'id', 'table_description': 'A 6-digit code sent by SMS to a mainland mobile number (accounts.phones): only its'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SmsDay',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField(unique=True)),
                ('sent', fields.IntField(default=0)),
                ('refused', fields.IntField(default=0)),
                ('alerted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'accounts_sms_day', 'app': 'accounts', 'pk_attr': 'id', 'table_description': 'Text messages sent on one Asia/Shanghai day, against the daily budget (accounts.phones):'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WechatOpenid',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('identity', fields.ForeignKeyField('accounts.Identity', source_field='identity_id', db_constraint=True, to_field='id', related_name='openids', on_delete=OnDelete.CASCADE)),
                ('user_id', fields.IntField()),
                ('app_id', fields.CharField(max_length=40)),
                ('openid', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'accounts_wechat_openid', 'app': 'accounts', 'unique_together': (('app_id', 'openid'),), 'indexes': [Index(fields=['user_id', 'app_id'])], 'pk_attr': 'id', 'table_description': "One app's openid of a WeChat identity: the official account's is what paying inside"},
            bases=['Model'],
        ),
        EmailMayBeNone(
            model_name='User',
            name='email',
            field=fields.CharField(null=True, unique=True, max_length=254),
        ),
    ]
