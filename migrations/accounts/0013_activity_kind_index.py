from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('accounts', '0002_token_owner_function'), ('accounts', '0003_server_sessions'), ('accounts', '0004_identity_report'), ('accounts', '0005_outbox'), ('accounts', '0006_password_resets'), ('accounts', '0007_profiles_and_notices'), ('accounts', '0008_login_codes_and_mail_requests'), ('accounts', '0009_staff_roles_and_audit'), ('accounts', '0010_activity_and_indexes'), ('accounts', '0011_consents'), ('accounts', '0012_outbox_recipient_index')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Activity',
            index=Index(fields=['kind', 'user_id']),
        ),
    ]
