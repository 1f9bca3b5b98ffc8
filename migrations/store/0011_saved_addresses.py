from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0007_profiles_and_notices'), ('store', '0010_refund_requests')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SavedAddress',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='saved_addresses', on_delete=OnDelete.CASCADE)),
                ('key', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=40)),
                ('phone', fields.CharField(max_length=20)),
                ('province', fields.CharField(max_length=20)),
                ('city', fields.CharField(max_length=40)),
                ('district', fields.CharField(max_length=40)),
                ('address', fields.CharField(max_length=200)),
                ('used_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'store_saved_address', 'app': 'store', 'unique_together': (('user', 'key'),), 'pk_attr': 'id', 'table_description': 'An address a buyer has shipped a paid order to, offered again at checkout (newest used'},
            bases=['Model'],
        ),
    ]
