from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """Order items by product (a drop's funnel and live state read one product's orders) and
    product views by day (one day's views of every product, for the daily numbers)."""

    dependencies = [('accounts', '0010_activity_and_indexes'), ('store', '0013_product_views_and_order_indexes')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='OrderItem',
            index=Index(fields=['product_id', 'order_id']),
        ),
        ops.AddIndex(
            model_name='ProductDay',
            index=Index(fields=['day', 'product_id']),
        ),
    ]
