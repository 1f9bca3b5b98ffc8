"""Every message id used in templates and code has a Chinese translation (Chinese is the
default): template strings, the code's _() / N_() / gettext(), the reasons given to
ValidationError, every DomainError's message, every state a page shows, every field label."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from accounts.models import OutboxState
from errors import DomainError
from membership.models import EnrollmentStatus
from membership.windows import WindowState
from payments.models import PaymentStatus
from payments.reasons import SENTENCES
from store.models import OrderStatus
from translation import translations
from web.errors import FIELD_LABELS, in_reader_language
from web.rendering import STATUS_LABELS

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGES = (
    "accounts", "community", "membership", "payments", "store", "web", "jobs", "front", "crm",
    "support",
    "keywords",
    "referrals",
)  # fmt: skip
KEYWORDS = {
    "_": None,
    "N_": None,
    "gettext": None,
    "ValidationError": (2,),
    # Errors raised with a message of their own, shown to people as it is translated.
    "RateLimited": (2,),
    "ServiceUnavailable": (1,),
    "BadCredentials": (1,),
}


def _ids(found: object) -> set[str]:
    return {m if isinstance(m, str) else m[0] for _, _, m, _, _ in found}  # type: ignore[attr-defined]


def template_messages() -> set[str]:
    return _ids(
        extract_from_dir(
            str(ROOT / "templates"),
            method_map=[("**.html", "jinja2")],
            keywords={"_": None, "gettext": None, "ngettext": (1, 2)},
        )
    )


# Route code also writes gettext_for(request)("..."), a call of a call babel does not extract.
_CALLED = re.compile(r'gettext_for\(request\)\(\s*"([^"]+)"')


def code_messages() -> set[str]:
    found: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found |= set(_CALLED.findall(path.read_text(encoding="utf-8")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # f-string reasons: translated by shape (reason_in)
        for package in PACKAGES:
            found |= _ids(
                extract_from_dir(
                    str(ROOT / package), method_map=[("**.py", "python")], keywords=KEYWORDS
                )
            )
        found |= _ids(
            extract_from_dir(
                str(ROOT),
                method_map=[
                    ("translation.py", "python"),
                    ("errors.py", "python"),
                    ("pictures.py", "python"),
                ],
                keywords=KEYWORDS,
            )
        )
    return found


def error_messages() -> set[str]:
    """The default message of every DomainError the app defines (imported by the app)."""
    import app  # noqa: F401  (every package's errors module, through the routes)

    pending, seen = [DomainError], set()
    while pending:
        kind = pending.pop()
        for sub in kind.__subclasses__():
            pending.append(sub)
            message = getattr(sub, "default_message", None)
            if isinstance(message, str) and message:
                seen.add(message)
    return seen


def translated() -> set[str]:
    with (ROOT / "locales/zh_CN/LC_MESSAGES/messages.po").open("rb") as po_file:
        catalog = read_po(po_file, locale="zh_CN")
    return {
        message.id if isinstance(message.id, str) else message.id[0]  # plural: (one, other)
        for message in catalog
        if message.id
        and all(message.string if isinstance(message.string, tuple) else [message.string])
    }


def test_every_template_string_is_translated_into_chinese() -> None:
    messages = template_messages()
    assert "Sign in" in messages  # the extraction found the templates
    missing = sorted(messages - translated())
    assert missing == [], f"add these to locales/zh_CN: {missing}"


def test_every_message_id_in_the_code_is_translated_into_chinese() -> None:
    messages = code_messages()
    assert "is not a valid unsubscribe link" in messages  # ValidationError's reasons
    assert "Your card has insufficient funds." in messages  # N_() in payments.reasons
    assert "Marked shipped." in messages  # gettext_for(request)("...") in a route
    missing = sorted(messages - translated())
    assert missing == [], f"add these to locales/zh_CN: {missing}"


def test_every_error_message_is_translated_into_chinese() -> None:
    messages = error_messages()
    assert "Wrong email or password." in messages
    missing = sorted(messages - translated())
    assert missing == [], f"add these to locales/zh_CN: {missing}"


@pytest.mark.parametrize(
    "states", [OrderStatus, EnrollmentStatus, WindowState, PaymentStatus, OutboxState]
)
def test_every_state_a_page_shows_has_a_translated_label(states: type) -> None:
    chinese = translations("zh_CN")
    for state in states:
        label = STATUS_LABELS[state.value]
        assert chinese.gettext(label) != label, state


def test_field_labels_and_decline_reasons_are_translated() -> None:
    chinese = translations("zh_CN")
    for label in [*FIELD_LABELS.values(), *SENTENCES.values()]:
        assert chinese.gettext(label) != label, label


def test_a_reason_with_a_number_in_it_is_translated_by_its_shape() -> None:
    from errors import ValidationError

    error = ValidationError("bio", "must be at most 281 characters")
    chinese = translations("zh_CN").gettext
    text = in_reader_language(None, error, gettext=chinese)  # type: ignore[arg-type]
    assert text == "简介：最多 281 个字符"


# What may stand in a Chinese sentence with ASCII punctuation: placeholders, addresses, times
# of day, ISO examples, numbers with thousands separators, what a person types (in “quotes”).
NOT_PROSE = re.compile(
    r"%\([a-z_]+\)[sd]|%[sd]|https?://\S+|\d{1,2}:\d{2}(?::\d{2})?|\d{4}-\d{2}-\d{2}T\S+"
    r"|\d,\d{3}|“[^”]*”"
)


def test_chinese_sentences_use_full_width_punctuation() -> None:
    """，。：？！；（） in Chinese text, not ASCII "!" "?" ":" (issue: front of house)."""
    with (ROOT / "locales/zh_CN/LC_MESSAGES/messages.po").open("rb") as po_file:
        catalog = read_po(po_file, locale="zh_CN")
    ascii_in_chinese = []
    for message in catalog:
        text = message.string if isinstance(message.string, str) else ""
        if not re.search(r"[\u4e00-\u9fff]", text):
            continue
        if re.search(r"[!?:;,()]", NOT_PROSE.sub("", text)):
            ascii_in_chinese.append(text)
    assert ascii_in_chinese == []


def test_templates_put_no_ascii_colon_after_a_translated_label() -> None:
    """`{{ _("Label") }}: value` reads "标签: 值" in Chinese: the colon belongs in the message."""
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in (ROOT / "templates").rglob("*.html")
        for match in re.finditer(r"_\([\"'][^\"']+[\"']\)\s*\}\}\s?[:!?]", path.read_text("utf-8"))
    ]
    assert found == []
