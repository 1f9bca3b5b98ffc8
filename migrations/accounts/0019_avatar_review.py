from tortoise import migrations
from tortoise.migrations import operations as ops
from accounts.models import AvatarState
from tortoise import fields

class Migration(migrations.Migration):
    """Who sees a person's avatar: a young account's new one waits for a moderator (issue 38).
    Everyone's avatar so far stays shown."""

    dependencies = [('accounts', '0018_profile_ip_region')]

    initial = False

    operations = [
        ops.AddField(
            model_name='User',
            name='avatar_state',
            field=fields.CharEnumField(default=AvatarState.SHOWN, description='SHOWN: shown\nWAITING: waiting\nREMOVED: removed', db_default=AvatarState.SHOWN, enum_type=AvatarState, max_length=10),
        ),
    ]
