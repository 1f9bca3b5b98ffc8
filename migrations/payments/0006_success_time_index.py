from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """The index on when each payment succeeded (revenue per day, paying members), which
    0005 declared but never made: Tortoise 1.1's AddField writes the column without the index
    its field asks for (db_index=True), so the model already says what this creates. Named
    as Tortoise names a field's index, so a later change of that field finds it."""

    dependencies = [('payments', '0005_refunds_and_success_times')]

    initial = False

    operations = [
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_payments_pa_succeed_037e06"'
            ' ON "payments_payment" ("succeeded_at")',
            reverse_sql='DROP INDEX IF EXISTS "idx_payments_pa_succeed_037e06"',
        ),
    ]
