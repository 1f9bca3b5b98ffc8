from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """What each person did each day (for active members), and the indexes the numbers read
    accounts by: when made, when their membership ends (indexes of the table: an index added
    to a field would remake the table on SQLite, which rows pointing at it refuse)."""

    dependencies = [('accounts', '0009_staff_roles_and_audit')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Activity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.IntField()),
                ('day', fields.DateField()),
                ('kind', fields.CharField(max_length=20)),
                ('count', fields.IntField(default=0)),
            ],
            options={'table': 'accounts_activity', 'app': 'accounts', 'unique_together': (('user_id', 'day', 'kind'),), 'indexes': [Index(fields=['day', 'user_id'])], 'pk_attr': 'id', 'table_description': 'How many times one person did one kind of thing on one Asia/Shanghai day: "feed.view",'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='User',
            index=Index(fields=['created_at']),
        ),
        ops.AddIndex(
            model_name='User',
            index=Index(fields=['member_until']),
        ),
    ]
