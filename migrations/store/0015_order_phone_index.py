from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """Orders by the phone given for their delivery: the back office finds a shopper by it."""

    dependencies = [('store', '0014_drop_items_and_product_days_indexes')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['ship_phone']),
        ),
    ]
