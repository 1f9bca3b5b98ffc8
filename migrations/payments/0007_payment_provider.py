from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Each payment's provider (issue 34), so that its reads, closes and refunds go to the
    provider that took it whatever the settings say later. Before it, WeChat Pay's own API
    (out_trade_no wxp...) or Stripe took every payment."""

    dependencies = [('payments', '0006_payment_flow')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Payment',
            name='provider',
            field=fields.CharField(default='stripe', db_default='stripe', max_length=20),
        ),
        ops.RunSQL(
            "UPDATE payments_payment SET provider = 'wechatpay'"
            " WHERE provider_intent_id LIKE 'wxp%'",
            reverse_sql="SELECT 1",
        ),
    ]
