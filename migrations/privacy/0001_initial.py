from tortoise import migrations
from tortoise.migrations import operations as ops
from privacy.models import ExportState
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """Members' copies of their data (issue 39)."""

    dependencies = [('accounts', '0019_avatar_review')]

    initial = True

    operations = [
        ops.CreateModel(
            name='DataExport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='data_exports', on_delete=OnDelete.CASCADE)),
                ('state', fields.CharEnumField(default=ExportState.PENDING, description='PENDING: pending\nREADY: ready\nFAILED: failed\nEXPIRED: expired', enum_type=ExportState, max_length=10)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ready_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('token_hash', fields.CharField(null=True, unique=True, max_length=64)),
                ('file_name', fields.CharField(null=True, max_length=100)),
                ('size_bytes', fields.IntField(default=0)),
                ('attempts', fields.IntField(default=0)),
            ],
            options={'table': 'privacy_export', 'app': 'privacy', 'indexes': [Index(fields=['state', 'id']), Index(fields=['user_id', 'id'])], 'pk_attr': 'id', 'table_description': "A member's request for a copy of their data, and the ZIP the job wrote for it. Only the"},
            bases=['Model'],
        ),
    ]
