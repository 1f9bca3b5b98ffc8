from tortoise import migrations
from tortoise.migrations import operations as ops
from payments.models import Settlement
from tortoise import fields

# Succeeded payments get a settlement (fulfilled, waiting, refund due, refunded). Rows written
# before keep NULL: reconciliation settles each of them once (its purpose says whether the
# thing stands delivered by it; if not, it is delivered now or refunded). The earlier code kept
# a success for a thing paid by another payment as "failed, duplicate_to_refund": such a
# payment did succeed, so it becomes succeeded with its refund due (or done).
LEGACY = """
UPDATE payments_payment SET status = 'succeeded', settlement = 'refund_due',
    failure_code = NULL, failure_message = NULL
WHERE status = 'failed' AND failure_code = 'duplicate_to_refund';
UPDATE payments_payment SET status = 'refunded', settlement = 'refunded',
    failure_code = NULL, failure_message = NULL
WHERE status = 'failed' AND failure_code = 'duplicate_refunded';
"""


async def settle_legacy_duplicates(apps, state_editor) -> None:
    await state_editor.client.execute_script(LEGACY)


async def nothing(apps, state_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('accounts', '0002_token_owner_function'), ('payments', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Payment',
            name='in_flight_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Payment',
            name='settlement',
            field=fields.CharEnumField(null=True, description='FULFILLED: fulfilled\nWAITING: waiting\nREFUND_DUE: refund_due\nREFUNDED: refunded', enum_type=Settlement, max_length=20),
        ),
        ops.RunPython(settle_legacy_duplicates, reverse_code=nothing),
    ]
