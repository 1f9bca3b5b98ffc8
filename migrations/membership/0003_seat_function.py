from tortoise import migrations
from tortoise.migrations import operations as ops

from db import read_sql
from pathlib import Path

# A new enrollment's seat is held by the function membership_hold_seat
# (membership/sql/hold_seat.sql, installed from that file: it is the current definition, this
# migration the moment it came), which finds a bearer token's owner itself
# (accounts/sql/token_owner.sql) and has a batch twin, membership_hold_seat_many.
ROOT = Path(__file__).resolve().parent.parent.parent


async def install_functions(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect != "postgres":
        return
    await state_editor.client.execute_script(read_sql(ROOT / "accounts" / "sql" / "token_owner.sql"))
    await state_editor.client.execute_script(read_sql(ROOT / "membership" / "sql" / "hold_seat.sql"))


async def drop_functions(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect != "postgres":
        return
    await state_editor.client.execute_script(
        "DROP FUNCTION IF EXISTS membership_hold_seat_many(integer[], text[], timestamptz[], "
        "integer[], timestamptz[], integer[], timestamptz[], timestamptz[]); "
        "DROP FUNCTION IF EXISTS membership_hold_seat(integer, text, timestamptz, integer, "
        "timestamptz, integer, timestamptz, timestamptz);"
    )


class Migration(migrations.Migration):
    dependencies = [('accounts', '0006_password_resets'), ('membership', '0002_cancelled_status')]

    initial = False

    operations = [
        ops.RunPython(install_functions, reverse_code=drop_functions),
    ]
