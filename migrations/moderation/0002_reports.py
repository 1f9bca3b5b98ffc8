from tortoise import migrations
from tortoise.migrations import operations as ops
from moderation.models import ReportStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """Reports of every kind of thing (issue 38), the board's post reports among them: their
    rows are copied from community_post_report, which nothing writes any more and a later
    release drops (expand, then contract)."""

    dependencies = [('moderation', '0001_initial'), ('community', '0006_pending_review')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Report',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('object_type', fields.CharField(max_length=20)),
                ('object_id', fields.IntField()),
                ('reporter', fields.ForeignKeyField('accounts.User', source_field='reporter_id', db_constraint=True, to_field='id', related_name='reports_made', on_delete=OnDelete.CASCADE)),
                ('reason', fields.CharField(max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(default=ReportStatus.OPEN, description='OPEN: open\nTAKEN_DOWN: taken_down\nDISMISSED: dismissed', enum_type=ReportStatus, max_length=12)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decided_by', fields.ForeignKeyField('accounts.User', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name='reports_decided', on_delete=OnDelete.SET_NULL)),
                ('note', fields.CharField(default='', max_length=300)),
            ],
            options={'table': 'moderation_report', 'app': 'moderation', 'unique_together': (('object_type', 'object_id', 'reporter'),), 'indexes': [Index(fields=['status', 'object_type', 'object_id']), Index(fields=['reporter_id', 'created_at'])], 'pk_attr': 'id', 'table_description': "A member's report of something on the site (a post, a reply, a profile, a"},
            bases=['Model'],
        ),
        ops.RunSQL(
            "INSERT INTO moderation_report (object_type, object_id, reporter_id, reason, "
            "created_at, status, note) SELECT 'post', r.post_id, r.reporter_id, r.reason, "
            "r.created_at, CASE WHEN r.resolved OR p.deleted THEN 'dismissed' ELSE 'open' END, "
            "'' FROM community_post_report r JOIN community_post p ON p.id = r.post_id",
            reverse_sql="SELECT 1",
        ),
    ]
