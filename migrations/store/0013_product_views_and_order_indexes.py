from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """Product page views per day and, around a drop's start, per minute; orders indexed by
    when they were placed and paid (a drop's funnel, units sold per day)."""

    dependencies = [('accounts', '0009_staff_roles_and_audit'), ('store', '0012_product_published')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ProductDay',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product_id', fields.IntField()),
                ('day', fields.DateField()),
                ('views', fields.IntField(default=0)),
            ],
            options={'table': 'store_product_day', 'app': 'store', 'unique_together': (('product_id', 'day'),), 'pk_attr': 'id', 'table_description': "Views of one product's page on one Asia/Shanghai day (store.analytics)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProductMinute',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product_id', fields.IntField()),
                ('minute', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('views', fields.IntField(default=0)),
            ],
            options={'table': 'store_product_minute', 'app': 'store', 'unique_together': (('product_id', 'minute'),), 'pk_attr': 'id', 'table_description': "Views of a drop's page in one minute around its sale's start: the funnel's first step"},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['created_at']),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['paid_at']),
        ),
    ]
