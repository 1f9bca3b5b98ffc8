from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """A window's page views per minute around its opening (its funnel), and the grants'
    index by person and reach (members on a day)."""

    dependencies = [('accounts', '0009_staff_roles_and_audit'), ('membership', '0005_window_benefits_and_faq')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WindowMinute',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('window_id', fields.IntField()),
                ('minute', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('views', fields.IntField(default=0)),
            ],
            options={'table': 'membership_window_minute', 'app': 'membership', 'unique_together': (('window_id', 'minute'),), 'pk_attr': 'id', 'table_description': "Views of an enrollment window's page in one minute around its opening: the funnel's"},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='MembershipGrant',
            index=Index(fields=['user_id', 'new_until']),
        ),
    ]
