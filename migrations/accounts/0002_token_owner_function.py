from tortoise import migrations
from tortoise.migrations import operations as ops

# (History: the current definition is accounts/sql/token_owner.sql, installed by store/0009.)
# The owner of a live bearer token, for statements that act for a caller in one round trip
# (store_hold, migration store/0007): the token table stays this package's business. It also
# records the token's use, at most once per `p_touch_before` (accounts.services.
# TOKEN_TOUCH_INTERVAL), as accounts.services.user_for_token does. NULL for an unknown or
# revoked token. PostgreSQL only: SQLite has no stored functions (and no concurrent writers).
TOKEN_OWNER = """
CREATE OR REPLACE FUNCTION accounts_token_owner(
    p_token_hash text, p_now timestamptz, p_touch_before timestamptz
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_token integer;
    v_owner integer;
    v_used timestamptz;
BEGIN
    SELECT t.id, t.user_id, t.last_used_at INTO v_token, v_owner, v_used
    FROM accounts_api_token AS t
    WHERE t.token_hash = p_token_hash AND t.revoked_at IS NULL;
    IF v_owner IS NOT NULL AND (v_used IS NULL OR v_used < p_touch_before) THEN
        UPDATE accounts_api_token AS t SET last_used_at = p_now WHERE t.id = v_token;
    END IF;
    RETURN v_owner;
END
$$
"""


async def create_function(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect == "postgres":
        await state_editor.client.execute_script(TOKEN_OWNER)


async def drop_function(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect == "postgres":
        await state_editor.client.execute_script(
            "DROP FUNCTION IF EXISTS accounts_token_owner(text, timestamptz, timestamptz)"
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    initial = False

    operations = [ops.RunPython(create_function, reverse_code=drop_function)]
