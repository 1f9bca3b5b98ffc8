"""How strong a password is: zxcvbn's estimate, and the most common Chinese passwords."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from zxcvbn import zxcvbn

COMMON_PASSWORDS = Path(__file__).resolve().parent / "data" / "common_passwords_zh.txt"
MIN_SCORE = 2  # zxcvbn: 0 too guessable .. 4 very unguessable; 2 resists online guessing
ESTIMATE_CHARS = 72  # zxcvbn refuses longer input (and its time grows with length)


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def weakness(password: str, *, user_inputs: list[str] | None = None) -> str | None:
    """Why `password` is too weak to keep an account (a sentence for the person), or None."""
    if password.strip().lower() in common_passwords():
        return "This is one of the most common passwords; choose another."
    result = zxcvbn(password[:ESTIMATE_CHARS], user_inputs=[i for i in user_inputs or [] if i])
    if result["score"] >= MIN_SCORE:
        return None
    warning = str(result["feedback"].get("warning") or "")
    if "common" in warning.lower():
        return "This is one of the most common passwords; choose another."
    if "name" in warning.lower() or any(
        part and part.lower() in password.lower() for part in user_inputs or []
    ):
        return "This password is too close to your email or name."
    return "This password is too easy to guess; make it longer, or use a few unrelated words."
