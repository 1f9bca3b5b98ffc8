from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Each payment's flow (issue 33: WeChat Pay's native, h5 and jsapi). Payments made
    before it were WeChat Pay's QR code (native) and Alipay's page, all through Stripe."""

    dependencies = [('accounts', '0015_link_code_purpose'), ('payments', '0005_refunds_and_success_times')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Payment',
            name='flow',
            field=fields.CharField(default='card', db_default='card', max_length=10),
        ),
        ops.RunSQL(
            "UPDATE payments_payment SET flow = CASE method"
            " WHEN 'wechat_pay' THEN 'native' WHEN 'alipay' THEN 'page' ELSE 'card' END",
            reverse_sql="SELECT 1",
        ),
    ]
