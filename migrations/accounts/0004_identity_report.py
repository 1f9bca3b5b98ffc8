import logging

from tortoise import migrations
from tortoise.migrations import operations as ops

# Emails are now NFKC-normalised and refused with invisible characters (accounts.identities).
# Accounts registered before that may hold such emails, or emails that now read as one: this
# migration reports them (log and standard output) for an operator to settle, and changes
# nothing.
log = logging.getLogger("shuyuan.migrations")


async def report_colliding_emails(apps, state_editor) -> None:
    from accounts.identities import email_collisions

    _, rows = await state_editor.client.execute_query("SELECT id, email FROM accounts_user")
    groups = email_collisions([(row["id"], row["email"]) for row in rows])
    for group in groups:
        line = "accounts whose emails now read as one (or hold invisible characters): " + ", ".join(
            f"#{account_id} {email!r}" for account_id, email in group
        )
        log.warning(line)
        print(line)


async def nothing(apps, state_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('accounts', '0003_server_sessions')]

    initial = False

    operations = [ops.RunPython(report_colliding_emails, reverse_code=nothing)]
