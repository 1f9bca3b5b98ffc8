from tortoise import migrations
from tortoise.migrations import operations as ops
from membership.models import EnrollmentStatus, GrantSource
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial')]

    initial = True

    operations = [
        ops.CreateModel(
            name='EnrollmentWindow',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=80)),
                ('price_fen', fields.IntField()),
                ('seats', fields.IntField()),
                ('opens_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closes_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('term_days', fields.IntField(default=365)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'membership_window', 'app': 'membership', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Enrollment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('window', fields.ForeignKeyField('membership.EnrollmentWindow', source_field='window_id', db_constraint=True, to_field='id', related_name='enrollments', on_delete=OnDelete.RESTRICT)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='enrollments', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(default=EnrollmentStatus.PENDING_PAYMENT, description='PENDING_PAYMENT: pending_payment\nPAID: paid\nEXPIRED: expired\nFAILED: failed\nREFUNDED: refunded', enum_type=EnrollmentStatus, max_length=20)),
                ('active_key', fields.CharField(null=True, unique=True, max_length=40)),
                ('amount_fen', fields.IntField()),
                ('hold_expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('payment_id', fields.IntField(null=True)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'membership_enrollment', 'app': 'membership', 'indexes': [Index(fields=['status', 'hold_expires_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Member',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='member', on_delete=OnDelete.CASCADE)),
                ('since', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reminded_for_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'membership_member', 'app': 'membership', 'pk_attr': 'id', 'table_description': "A person who has been a member: their card number is this row's id, kept for life."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MembershipGrant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='membership_grants', on_delete=OnDelete.CASCADE)),
                ('source', fields.CharEnumField(description='ENROLLMENT: enrollment\nCOMPLIMENTARY: complimentary', enum_type=GrantSource, max_length=20)),
                ('enrollment_id', fields.IntField(null=True, unique=True)),
                ('granted_by_id', fields.IntField(null=True)),
                ('days', fields.IntField()),
                ('previous_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('new_until', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'membership_grant', 'app': 'membership', 'pk_attr': 'id', 'table_description': "Each extension of someone's membership, so a refund or revoke can be undone exactly."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Seat',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('window', fields.ForeignKeyField('membership.EnrollmentWindow', source_field='window_id', db_constraint=True, to_field='id', related_name='seat_rows', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('enrollment_id', fields.IntField(null=True, unique=True)),
                ('offered_to_id', fields.IntField(null=True)),
                ('offer_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'membership_seat', 'app': 'membership', 'unique_together': (('window', 'number'),), 'pk_attr': 'id', 'table_description': 'One row per seat, made with the window: holding a seat is claiming a free row.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WaitlistEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('window', fields.ForeignKeyField('membership.EnrollmentWindow', source_field='window_id', db_constraint=True, to_field='id', related_name='waitlist', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('accounts.User', source_field='user_id', db_constraint=True, to_field='id', related_name='waitlist_entries', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('offered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'membership_waitlist', 'app': 'membership', 'unique_together': (('window', 'user'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
