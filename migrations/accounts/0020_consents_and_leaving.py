from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    """Consent to versioned terms and privacy policy, and leaving (注销): issue 39. Nobody has
    agreed to a version yet (0), and nobody is leaving."""

    dependencies = [('accounts', '0019_avatar_review')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LegalDocument',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=20)),
                ('version', fields.IntField()),
                ('title', fields.CharField(max_length=120)),
                ('body', fields.TextField(unique=False)),
                ('published_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('published_by', fields.ForeignKeyField('accounts.User', source_field='published_by_id', null=True, db_constraint=True, to_field='id', related_name='legal_documents', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'accounts_legal_document', 'app': 'accounts', 'unique_together': (('kind', 'version'),), 'pk_attr': 'id', 'table_description': 'One published version of the terms, the privacy policy or the cross-border notice'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Consent',
            name='version',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='User',
            name='agreed_privacy',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='User',
            name='agreed_terms',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='User',
            name='erase_after',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='User',
            name='erased_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
