from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('accounts', '0002_token_owner_function'), ('accounts', '0003_server_sessions'), ('accounts', '0004_identity_report'), ('accounts', '0005_outbox'), ('accounts', '0006_password_resets'), ('accounts', '0007_profiles_and_notices'), ('accounts', '0008_login_codes_and_mail_requests'), ('accounts', '0009_staff_roles_and_audit'), ('accounts', '0010_activity_and_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Consent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='consents', on_delete=OnDelete.CASCADE)),
                ('purpose', fields.CharField(max_length=40)),
                ('granted', fields.BooleanField()),
                ('source', fields.CharField(max_length=20)),
                ('wording', fields.CharField(max_length=500)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'accounts_consent', 'app': 'accounts', 'indexes': [Index(fields=['user_id', 'purpose', 'id'])], 'pk_attr': 'id', 'table_description': "A person's yes or no to something the law wants asked first (mail with commercial"},
            bases=['Model'],
        ),
    ]
