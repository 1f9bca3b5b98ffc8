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
    ]
