from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """The mails sent to one address, newest first: a person's page in the back office reads
    them (an index of the table, as 0010's)."""

    dependencies = [('accounts', '0011_consents')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='OutboxMessage',
            index=Index(fields=['recipient', 'id']),
        ),
    ]
