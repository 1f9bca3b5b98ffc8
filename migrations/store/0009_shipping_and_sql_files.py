from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

from db import read_sql
from pathlib import Path

# Orders get a structured shipping address (province, city, district beside the recipient,
# mobile number and street address; an older order's one free-text line stays in ship_address)
# and products say whether they ship at all. The hold, which writes an address given with the
# order, now lives in store/sql/hold.sql and is installed from there (and accounts_token_owner
# from accounts/sql/token_owner.sql): the file is the current definition, this migration the
# moment it changed.
ROOT = Path(__file__).resolve().parent.parent.parent


async def install_functions(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect != "postgres":
        return
    await state_editor.client.execute_script(read_sql(ROOT / "accounts" / "sql" / "token_owner.sql"))
    await state_editor.client.execute_script(read_sql(ROOT / "store" / "sql" / "hold.sql"))


async def nothing(apps, state_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('accounts', '0004_identity_report'), ('store', '0008_hold_many')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Order',
            name='ship_city',
            field=fields.CharField(null=True, max_length=40),
        ),
        ops.AddField(
            model_name='Order',
            name='ship_district',
            field=fields.CharField(null=True, max_length=40),
        ),
        ops.AddField(
            model_name='Order',
            name='ship_province',
            field=fields.CharField(null=True, max_length=20),
        ),
        ops.AddField(
            model_name='Product',
            name='requires_shipping',
            field=fields.BooleanField(default=True),
        ),
        ops.RunPython(install_functions, reverse_code=nothing),
    ]
