from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('store', '0011_saved_addresses')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Product',
            name='published',
            field=fields.BooleanField(default=True, db_default=True),
        ),
    ]
