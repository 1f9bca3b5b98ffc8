from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('store', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DropReminder',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product', fields.ForeignKeyField('store.Product', source_field='product_id', db_constraint=True, to_field='id', related_name='reminders', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='drop_reminders', on_delete=OnDelete.CASCADE)),
                ('notified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'store_drop_reminder', 'app': 'store', 'unique_together': (('product', 'user'),), 'pk_attr': 'id', 'table_description': 'Someone who asked to be told when a drop opens for them.'},
            bases=['Model'],
        ),
    ]
