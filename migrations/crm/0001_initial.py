from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from crm.models import AudienceKind, BroadcastStatus, NoteVisibility, RecipientState
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0012_outbox_recipient_index')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Broadcast',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=120)),
                ('body', fields.TextField(unique=False)),
                ('body_html', fields.TextField(unique=False)),
                ('links', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('audience_kind', fields.CharEnumField(description='ALL_MEMBERS: all_members\nEVERYONE: everyone\nSEGMENT: segment\nPRODUCT_BUYERS: product_buyers', enum_type=AudienceKind, max_length=20)),
                ('audience_id', fields.IntField(null=True)),
                ('status', fields.CharEnumField(default=BroadcastStatus.SCHEDULED, description='SCHEDULED: scheduled\nSENDING: sending\nSENT: sent\nCANCELED: canceled', enum_type=BroadcastStatus, max_length=10)),
                ('send_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('recipients', fields.IntField(default=0)),
                ('delivered', fields.IntField(default=0)),
                ('failed', fields.IntField(default=0)),
                ('skipped', fields.IntField(default=0)),
                ('mailed', fields.IntField(default=0)),
                ('clicks', fields.IntField(default=0)),
                ('created_by_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'crm_broadcast', 'app': 'crm', 'indexes': [Index(fields=['status', 'send_at'])], 'pk_attr': 'id', 'table_description': 'One message to many (crm.broadcasts): its text, its audience, and how its sending goes.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BroadcastRecipient',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('broadcast', fields.ForeignKeyField('crm.Broadcast', source_field='broadcast_id', db_constraint=True, to_field='id', related_name='recipient_rows', on_delete=OnDelete.CASCADE)),
                ('user_id', fields.IntField()),
                ('state', fields.CharEnumField(default=RecipientState.PENDING, description='PENDING: pending\nDELIVERED: delivered\nSKIPPED: skipped\nFAILED: failed', enum_type=RecipientState, max_length=10)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('clicked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'crm_broadcast_recipient', 'app': 'crm', 'unique_together': (('broadcast', 'user_id'),), 'indexes': [Index(fields=['broadcast_id', 'state', 'user_id']), Index(fields=['user_id'])], 'pk_attr': 'id', 'table_description': 'One person a broadcast is for, written when its sending starts. A batch moves it from'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DailyReach',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.IntField()),
                ('day', fields.DateField()),
                ('broadcast_id', fields.IntField()),
            ],
            options={'table': 'crm_daily_reach', 'app': 'crm', 'unique_together': (('user_id', 'day'),), 'indexes': [Index(fields=['day'])], 'pk_attr': 'id', 'table_description': 'The broadcast that reached a person on one Asia/Shanghai day. Invariant "nobody receives'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PersonNote',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='crm_notes', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('accounts.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='crm_notes_written', on_delete=OnDelete.SET_NULL)),
                ('body', fields.TextField(unique=False)),
                ('visibility', fields.CharEnumField(default=NoteVisibility.STAFF, description='STAFF: staff\nADMINS: admins', enum_type=NoteVisibility, max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'crm_note', 'app': 'crm', 'indexes': [Index(fields=['user_id', 'id'])], 'pk_attr': 'id', 'table_description': 'What a staff member wrote about a person: who wrote what, when. Notes are never edited'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Segment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=60)),
                ('rules', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_by_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'crm_segment', 'app': 'crm', 'pk_attr': 'id', 'table_description': 'A saved filter over people (crm.segments.SegmentFilter, stored as its JSON), counted'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Tag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=30)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'crm_tag', 'app': 'crm', 'pk_attr': 'id', 'table_description': 'A label admins put on people ("讲师", "VIP", "media"), which segments can select by.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PersonTag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='crm_tags', on_delete=OnDelete.CASCADE)),
                ('tag', fields.ForeignKeyField('crm.Tag', source_field='tag_id', db_constraint=True, to_field='id', related_name='people', on_delete=OnDelete.CASCADE)),
                ('added_by_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'crm_person_tag', 'app': 'crm', 'unique_together': (('user', 'tag'),), 'indexes': [Index(fields=['tag_id', 'user_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
