from tortoise import migrations
from tortoise.migrations import operations as ops
from payments.models import PayMethod
from tortoise import fields

# WeChat Pay and Alipay: how each payment was made (the rows before were all cards), what a
# wallet payment waits for (its QR code data or redirect, the hosted instructions page, until
# when it is offered), and when the provider was last asked about it for a polling page.


class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('accounts', '0002_token_owner_function'), ('accounts', '0003_server_sessions'), ('accounts', '0004_identity_report'), ('accounts', '0005_outbox'), ('accounts', '0006_password_resets'), ('accounts', '0007_profiles_and_notices'), ('payments', '0002_settlements')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Payment',
            name='action_expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Payment',
            name='asked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Payment',
            name='action_help_url',
            field=fields.CharField(null=True, max_length=2000),
        ),
        ops.AddField(
            model_name='Payment',
            name='action_url',
            field=fields.CharField(null=True, max_length=2000),
        ),
        ops.AddField(
            model_name='Payment',
            name='method',
            field=fields.CharEnumField(default=PayMethod.CARD, description='CARD: card\nWECHAT_PAY: wechat_pay\nALIPAY: alipay', enum_type=PayMethod, max_length=20),
        ),
    ]
