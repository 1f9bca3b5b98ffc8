from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('store', '0003_auto_20261125_1003')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RaffleEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product', fields.ForeignKeyField('store.Product', source_field='product_id', db_constraint=True, to_field='id', related_name='raffle_entries', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='raffle_entries', on_delete=OnDelete.CASCADE)),
                ('won', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'store_raffle_entry', 'app': 'store', 'unique_together': (('product', 'user'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Product',
            name='raffle_drawn_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Product',
            name='raffle_entries_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Product',
            name='raffle_purchase_minutes',
            field=fields.IntField(default=60),
        ),
        ops.AddField(
            model_name='Product',
            name='raffle_seed',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
