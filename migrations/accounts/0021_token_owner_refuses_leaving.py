from pathlib import Path

from tortoise import migrations
from tortoise.migrations import operations as ops

from db import read_sql

# A live token of an account being cancelled (issue 39's leaving) finds no owner in the
# statements that act for a caller in one round trip, as in Python: accounts/sql/token_owner.sql
# is installed again.
ROOT = Path(__file__).resolve().parent.parent.parent


async def install_token_owner(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect != "postgres":
        return
    await state_editor.client.execute_script(
        read_sql(ROOT / "accounts" / "sql" / "token_owner.sql")
    )


async def nothing(apps, state_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [("accounts", "0020_consents_and_leaving")]

    initial = False

    operations = [ops.RunPython(install_token_owner, reverse_code=nothing)]
