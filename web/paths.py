"""Path parameters: a database id in a path is a whole number from 1 to 2,147,483,647.

Routes write `{id:id}`; anything else in that place (letters, zero, a number past the
database's integer range) matches no route and is answered 404 `not_found`, the same on every
page and endpoint, before any handler or database sees it.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

# 1 .. 2147483647 (PostgreSQL's integer), digit by digit.
ID_PATTERN = (
    "(?:[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}|2147[0-3][0-9]{5}"
    "|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}|21474836[0-3][0-9]"
    "|214748364[0-7])"
)


class IdConvertor(Convertor[int]):
    regex = ID_PATTERN

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


def register() -> None:
    """Make `{name:id}` known to Starlette's router. Starlette keeps its convertors in one
    table per process; create_app calls this (again for each app: it is the same convertor)."""
    register_url_convertor("id", IdConvertor())
