from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('store', '0002_auto_20261125_0954')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Product',
            name='image',
            field=fields.CharField(null=True, max_length=80),
        ),
    ]
