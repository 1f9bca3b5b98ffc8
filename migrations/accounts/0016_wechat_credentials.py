# The official account's access token and JS-SDK ticket, one row per AppID, refreshed by one job
# for every host (accounts.wechat_jssdk).
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0015_link_code_purpose')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WechatCredential',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app_id', fields.CharField(unique=True, max_length=40)),
                ('access_token', fields.CharField(default='', max_length=1000)),
                ('access_token_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('jsapi_ticket', fields.CharField(default='', max_length=1000)),
                ('jsapi_ticket_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('refreshed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('refresh_claimed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'accounts_wechat_credential', 'app': 'accounts', 'pk_attr': 'id', 'table_description': "The official account's access token and JS-SDK ticket (accounts.wechat_jssdk). WeChat"},
            bases=['Model'],
        ),
    ]
