"""Development stand-ins for what this machine cannot reach, run as processes of their own:
a fake Stripe with WeChat Pay and Alipay imitated (localstripe.py) and a mail catcher
(mail_catcher.py). `shuyuan serve --with-localstripe --with-mail-catcher` (make run) and the
tests start them from a checkout. Not shipped: the wheel built from pyproject.toml leaves
devserver/ out, and no module of the application imports it."""
