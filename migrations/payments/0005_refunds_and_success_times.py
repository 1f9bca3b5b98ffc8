from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    """Refunds as rows, and when each payment succeeded: the days money came and went.

    Payments that succeeded before this release get the best time recorded (fulfilled, else
    confirmed by the provider, else last changed); each payment already refunded gets one
    refund row of its refunded total at its last change.
    """

    dependencies = [('accounts', '0009_staff_roles_and_audit'), ('payments', '0004_disputed')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Refund',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('payment_id', fields.IntField(db_index=True)),
                ('amount_fen', fields.IntField()),
                ('automatic', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'payments_refund', 'app': 'payments', 'pk_attr': 'id', 'table_description': 'Money given back on a payment, as the provider confirmed it: a staff refund (part or'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Payment',
            name='succeeded_at',
            field=fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False),
        ),
        # Tortoise 1.1's AddField writes the column without the index its field asks for
        # (db_index=True): made here, under the name Tortoise gives a field's index, so a
        # later change of the field finds it.
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_payments_pa_succeed_037e06"'
            ' ON "payments_payment" ("succeeded_at")',
            reverse_sql='DROP INDEX IF EXISTS "idx_payments_pa_succeed_037e06"',
        ),
        ops.RunSQL(
            "UPDATE payments_payment SET succeeded_at = COALESCE(fulfilled_at, confirmed_at, updated_at)"
            " WHERE status IN ('succeeded', 'refunded', 'disputed') AND succeeded_at IS NULL",
            reverse_sql="UPDATE payments_payment SET succeeded_at = NULL",
        ),
        ops.RunSQL(
            "INSERT INTO payments_refund (payment_id, amount_fen, automatic, created_at)"
            " SELECT id, refunded_fen, CASE WHEN settlement = 'refunded' THEN TRUE ELSE FALSE END,"
            " updated_at FROM payments_payment WHERE refunded_fen > 0",
            reverse_sql="DELETE FROM payments_refund",
        ),
    ]
