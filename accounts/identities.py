"""Who a person appears to be: emails and display names that cannot pass for someone else.

Emails and names are normalised (NFKC) and refused when they hold characters a reader cannot
see (zero-width spaces and joiners, bidirectional controls, fillers that render as blanks).
A display name whose confusable skeleton (Unicode TR39's idea, with the confusables data that
confusable-homoglyphs maintains) matches an admin's name, the site's name or a reserved word
is refused, so "аdmin" in Cyrillic, or "书院官方" written with look-alikes, cannot appear.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from confusable_homoglyphs import confusables


def normalize_email(email: str) -> str:
    """How emails are stored and compared: NFKC (full-width letters are the plain ones),
    lower-cased, without surrounding spaces."""
    return unicodedata.normalize("NFKC", email).strip().lower()


# Letters that render as nothing or as a blank although Unicode calls them letters or symbols.
BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e\u17b4\u17b5\u034f\u061c\u00ad")
# Names nobody may take: they would read as the site speaking, or as its staff, or as an
# erased account (accounts.profiles.DELETED_ACCOUNT: "已注销用户", "Deleted account").
RESERVED_NAMES = (
    "admin", "administrator", "root", "system", "support", "staff", "official", "moderator",
    "shuyuan", "书院", "书院官方", "官方", "管理员", "客服", "系统", "版主",
    "已注销用户", "注销用户", "deleted account", "deleted user",
)  # fmt: skip


def invisible_characters(text: str) -> list[str]:
    """The characters of `text` a reader would not see, each named by its code point
    ("U+200B")."""
    found = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cf", "Cc", "Cs", "Co", "Cn", "Zl", "Zp") or char in BLANK_LOOKING:
            found.append(f"U+{ord(char):04X}")
    return found


@cache
def _prototypes() -> dict[str, str]:
    """character -> the plainest character it can be mistaken for (ASCII where there is one)."""
    table: dict[str, str] = {}
    for char, entries in confusables.confusables_data.items():
        if len(char) != 1:
            continue
        candidates = sorted(
            {char, *(entry["c"] for entry in entries if len(entry["c"]) == 1)},
            key=lambda c: (not c.isascii(), not c.isalpha(), ord(c)),
        )
        table[char] = candidates[0]
    return table


def skeleton(text: str) -> str:
    """What `text` looks like, whatever letters it is written with: look-alikes mapped to
    one prototype, case and width folded, spaces and punctuation dropped."""
    prototypes = _prototypes()
    shape = unicodedata.normalize("NFKC", text)
    for _ in range(2):  # "0" -> "O" -> "o": map, fold, and map again
        shape = unicodedata.normalize(
            "NFKC", "".join(prototypes.get(char, char) for char in shape.casefold())
        ).casefold()
    return "".join(char for char in shape if unicodedata.category(char)[0] in "LN")


def impersonates(name: str, protected: list[str]) -> str | None:
    """The protected name or reserved word that `name` passes for, if any."""
    shape = skeleton(name)
    if not shape:
        return None
    for other in (*RESERVED_NAMES, *protected):
        if skeleton(other) == shape:
            return other
    return None


def email_collisions(accounts: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """Groups of accounts (id, email as stored) that the current rules would make one account:
    the same once NFKC-normalised, lower-cased and stripped of invisible characters. Also
    every account whose email holds invisible characters, alone in its group when it collides
    with nobody. For the operator to settle by hand: nothing is changed here."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for account_id, email in accounts:
        shown = "".join(
            char
            for char in unicodedata.normalize("NFKC", email).strip().lower()
            if not invisible_characters(char)
        )
        groups.setdefault(shown, []).append((account_id, email))
    return [
        group
        for group in groups.values()
        if len(group) > 1 or any(invisible_characters(email) for _, email in group)
    ]
