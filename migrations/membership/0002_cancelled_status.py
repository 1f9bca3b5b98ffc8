from tortoise import migrations
from tortoise.migrations import operations as ops
from membership.models import EnrollmentStatus
from tortoise import fields


class AlterDescriptionOnly(ops.AlterField):
    """A new enum value (cancelled) changes only the field's description: the column is a
    varchar(20) either way. Tortoise 1.1.9's SQLite AlterField would rebuild the table (and
    lose indexes, see store/0006), so only the model state moves on."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('accounts', '0002_token_owner_function'), ('membership', '0001_initial')]

    initial = False

    operations = [
        AlterDescriptionOnly(
            model_name='Enrollment',
            name='status',
            field=fields.CharEnumField(default=EnrollmentStatus.PENDING_PAYMENT, description='PENDING_PAYMENT: pending_payment\nPAID: paid\nEXPIRED: expired\nFAILED: failed\nCANCELLED: cancelled\nREFUNDED: refunded', enum_type=EnrollmentStatus, max_length=20),
        ),
    ]
