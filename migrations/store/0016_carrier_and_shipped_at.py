from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    """An order's carrier and when it was shipped (issue 37: delivery, 确认收货 by itself)."""

    dependencies = [('store', '0015_order_phone_index')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Order',
            name='carrier',
            field=fields.CharField(null=True, max_length=20),
        ),
        ops.AddField(
            model_name='Order',
            name='shipped_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        # Orders shipped before: shipped when their history says (so the job confirms them
        # received in their turn, as their page says it will).
        ops.RunSQL(
            "UPDATE store_order SET shipped_at = (SELECT MIN(e.at) FROM store_order_event e "
            "WHERE e.order_id = store_order.id AND e.status = 'shipped') "
            "WHERE status = 'shipped' AND shipped_at IS NULL",
            reverse_sql="SELECT 1",
        ),
    ]
