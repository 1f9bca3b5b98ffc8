from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('accounts', '0002_token_owner_function'), ('accounts', '0003_server_sessions'), ('accounts', '0004_identity_report'), ('accounts', '0005_outbox'), ('accounts', '0006_password_resets'), ('accounts', '0007_profiles_and_notices')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LoginCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='login_codes', on_delete=OnDelete.CASCADE)),
                ('code_hash', fields.CharField(max_length=64)),
                ('tries', fields.IntField(default=0)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'accounts_login_code', 'app': 'accounts', 'indexes': [Index(fields=['user_id', 'code_hash'])], 'pk_attr': 'id', 'table_description': 'A one-time sign-in code mailed to the account: it lets a browser that the throttle on'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MailRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=20)),
                ('email', fields.CharField(max_length=320)),
                ('locale', fields.CharField(max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'accounts_mail_request', 'app': 'accounts', 'pk_attr': 'id', 'table_description': 'A mail asked for by someone who is not signed in (a reset link, a sign-in code), kept'},
            bases=['Model'],
        ),
    ]
