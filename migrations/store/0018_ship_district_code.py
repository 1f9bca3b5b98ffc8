from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    """The district code chosen in checkout's picker, beside the names (issue 37)."""

    dependencies = [('store', '0017_invoice_requests')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Order',
            name='ship_district_code',
            field=fields.CharField(null=True, max_length=6),
        ),
    ]
