"""What the store tells its shoppers: the notice kinds of orders, refunds, drops and raffles.

Registered in the app's notice kinds by the composition root; sent with accounts.notices.notify.
"""

from __future__ import annotations

from accounts.models import NoticeChannel
from accounts.notices import Kind
from store import mail
from translation import N_

KINDS: dict[str, Kind] = {
    "order_paid": Kind(
        N_("Order #%(order)s is paid (%(amount)s); it ships soon."),
        N_("Receipt for order #%(order)s"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Receipts"),
        mail=mail.order_paid,
    ),
    "order_shipped": Kind(
        N_("Order #%(order)s has shipped; tracking number %(tracking)s."),
        N_("Order #%(order)s has shipped"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Shipping"),
        mail=mail.order_shipped,
    ),
    "order_delivered": Kind(
        N_("Order #%(order)s was delivered."),
        N_("Order #%(order)s was delivered"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Delivery"),
    ),
    "invoice_issued": Kind(
        N_("The invoice for order #%(order)s is ready: download it from the order's page."),
        N_("Invoice for order #%(order)s"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Invoices"),
    ),
    "refund_approved": Kind(
        N_("Your refund for order #%(order)s is approved; the money is on its way back."),
        N_("Order #%(order)s: refund approved"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Refunds"),
    ),
    "refund_refused": Kind(
        N_("Your refund request for order #%(order)s was refused: %(note)s"),
        N_("Order #%(order)s: refund refused"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Refunds"),
    ),
    "order_paid_late": Kind(
        N_(
            "The payment for order #%(order)s arrived after it was cancelled; the items were still there, so the order is back and paid."
        ),
        N_("Order #%(order)s is paid after all"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Late payments"),
    ),
    "order_refunded_late": Kind(
        N_(
            "The payment for order #%(order)s arrived after it was cancelled and the items could not be kept; the money has been refunded in full."
        ),
        N_("Order #%(order)s: your money is refunded"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Late payments"),
    ),
    "drop_open": Kind(
        N_("“%(title)s” is on sale now."),
        N_("“%(title)s” is on sale now"),
        NoticeChannel.INBOX_AND_MAIL,
        reminder=True,
        label=N_("Drop reminders"),
        mail=mail.product_picture,
    ),
    "raffle_won": Kind(
        N_("You won the raffle for “%(title)s”: buy before %(time)s (Beijing time)."),
        N_("You won the raffle for “%(title)s”"),
        NoticeChannel.INBOX_AND_MAIL,
        reminder=True,
        label=N_("Raffle results"),
        mail=mail.product_picture,
    ),
}
