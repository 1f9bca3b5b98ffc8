from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """A partial index of the units still for sale.

    Without it, once a drop's product held most rows of store_unit, PostgreSQL's planner chose
    a sequential scan for "a free unit of product P", which walks past every unit already
    claimed: a 10,000-unit drop slowed to a third of its speed as it sold (bench/drop_rush.py).
    The partial index holds only free units, so claiming one stays cheap to the last unit.
    """

    dependencies = [("store", "0004_auto_20261125_1008")]

    initial = False

    operations = [
        ops.RunSQL(
            "CREATE INDEX store_unit_free ON store_unit (product_id, id) WHERE order_id IS NULL",
            reverse_sql="DROP INDEX store_unit_free",
        ),
    ]
