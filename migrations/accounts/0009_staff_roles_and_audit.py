import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Staff roles and the audit log.

    Expand, then contract: `is_admin` stays as a column (the model's `admin_flag`, written in
    step with the role) so hosts still running the previous release keep working during an
    upgrade; its admins become owners. A later release drops it.
    """

    dependencies = [("accounts", "0008_login_codes_and_mail_requests")]

    initial = False

    operations = [
        ops.CreateModel(
            name="AuditEntry",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("actor", fields.ForeignKeyField("accounts.User", source_field="actor_id", null=True, db_constraint=True, to_field="id", related_name="audit_entries", on_delete=OnDelete.SET_NULL)),
                ("action", fields.CharField(max_length=40)),
                ("object_type", fields.CharField(max_length=30)),
                ("object_id", fields.CharField(null=True, max_length=40)),
                ("before", fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads)),
                ("after", fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads)),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "accounts_audit", "app": "accounts", "indexes": [Index(fields=["actor_id", "id"]), Index(fields=["action", "id"]), Index(fields=["object_type", "object_id", "id"])], "pk_attr": "id", "table_description": "One staff action (accounts.audit): who, what, on which object, the object's fields"},
            bases=["Model"],
        ),
        # The column keeps its name: the field is renamed in the models only.
        ops.AlterField(
            model_name="User",
            name="is_admin",
            field=fields.BooleanField(default=False, source_field="is_admin"),
        ),
        ops.RenameField(model_name="User", old_name="is_admin", new_name="admin_flag"),
        ops.AddField(
            model_name="User",
            name="staff_role",
            field=fields.CharField(null=True, max_length=12),
        ),
        ops.RunSQL(
            "UPDATE accounts_user SET staff_role = 'owner' WHERE is_admin",
            reverse_sql="UPDATE accounts_user SET staff_role = NULL",
        ),
    ]
