from tortoise import migrations
from tortoise.migrations import operations as ops
from payments.models import PaymentStatus
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('accounts', '0002_token_owner_function'), ('accounts', '0003_server_sessions'), ('accounts', '0004_identity_report'), ('accounts', '0005_outbox'), ('accounts', '0006_password_resets'), ('accounts', '0007_profiles_and_notices'), ('payments', '0003_wallets')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Payment',
            name='status',
            field=fields.CharEnumField(default=PaymentStatus.PENDING, description='PENDING: pending\nREQUIRES_ACTION: requires_action\nSUCCEEDED: succeeded\nFAILED: failed\nREFUNDED: refunded\nDISPUTED: disputed', enum_type=PaymentStatus, max_length=20),
        ),
        ops.AddField(
            model_name='Payment',
            name='confirmed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
