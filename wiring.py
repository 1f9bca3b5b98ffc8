"""Wires: how an app hands the code below it what it was built with, for its requests and jobs.

A package that needs something only the app can choose (payments the purposes it settles for,
accounts the mail letterhead and the notice kinds) declares a `Wire`. The composition root
(composition.py) builds the values and binds them: web.wiring.Wired binds an app's wiring for
each of its requests and for its lifespan (so its background jobs see it too), `shuyuan` binds
it for a command, and a test's fixture for its test. Code reads a wire with `.get()`; two apps
in one process each see their own, because a binding lives in the context of the task that
serves the app (contextvars), never in a module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class NotWired(RuntimeError):
    """Code read a wire nobody bound: it runs outside an app, a command or a test's wiring."""


class Wire(Generic[T]):
    """One thing an app hands down (a registry, a letterhead), read with `.get()`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._var: ContextVar[T] = ContextVar(name)

    def get(self) -> T:
        try:
            return self._var.get()
        except LookupError:
            raise NotWired(
                f"{self.name} is not wired here: create_app, the `shuyuan` command or a "
                "test's fixture binds it (composition.py)"
            ) from None

    def __repr__(self) -> str:
        return f"Wire({self.name!r})"


@dataclass(frozen=True)
class Wiring:
    """Values for wires, bound together."""

    values: tuple[tuple[Wire[Any], Any], ...]

    @contextmanager
    def bound(self) -> Iterator[None]:
        """Every wire reads this wiring's value until the block ends (in this task and the
        tasks it starts)."""
        tokens = [(wire, wire._var.set(value)) for wire, value in self.values]
        try:
            yield
        finally:
            for wire, token in reversed(tokens):
                wire._var.reset(token)
