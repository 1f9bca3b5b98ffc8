from pathlib import Path

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from db import read_sql

# Shipping fees (issue 37): a product's postage, and the fee an order pays (its total is the
# goods and this fee). The drop's hold writes both the fee and the picker's district code in
# its one statement now, so store/sql/hold.sql is installed again (it drops the old signature).
ROOT = Path(__file__).resolve().parent.parent.parent


async def install_hold(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect != "postgres":
        return
    await state_editor.client.execute_script(read_sql(ROOT / "store" / "sql" / "hold.sql"))


async def nothing(apps, state_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [("store", "0018_ship_district_code")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Product",
            name="shipping_fee_fen",
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name="Order",
            name="shipping_fee_fen",
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.RunPython(install_hold, reverse_code=nothing),
    ]
