"""The ledger of departures (accounts.departures): kept in the storage, outside the database, so
that a database restored from a backup older than someone's leaving erases them again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accounts import departures
from accounts import leaving as accounts_leaving
from accounts.models import User
from privacy import erasure
from ratelimit import MemoryCounter
from settings import Settings
from storage import STORAGE, LocalStorage
from tests.factories import PASSWORD, make_user
from tests.live import ROOT, server_environment
from wiring import Wiring


@pytest.fixture(autouse=True)
def ledger_of_its_own(tmp_path: Path) -> Iterator[LocalStorage]:
    """A storage of the test's own: the run's holds other tests' departures."""
    storage = LocalStorage(tmp_path / "storage")
    with Wiring(((STORAGE, storage),)).bound():
        yield storage


async def restored_from_before(user_id: int, *, email: str, name: str) -> None:
    """The account's row as a backup taken before it left holds it (a restore)."""
    await User.filter(id=user_id).update(
        erase_after=None, erased_at=None, email=email, display_name=name
    )


async def test_a_restore_older_than_a_leaving_erases_the_person_again(settings: Settings) -> None:
    now = datetime.now(UTC)
    person = await make_user(email="zhen.yinshi@example.cn", name="甄隐士")
    erase_after = await accounts_leaving.ask_to_leave(
        person, password=PASSWORD, code=None, now=now, days=15, counter=MemoryCounter()
    )
    [entry] = await departures.departures()
    assert (entry.user_id, entry.erase_after, entry.erased_at) == (person.id, erase_after, None)
    # The database comes back from a backup taken before they asked: they never asked.
    await restored_from_before(person.id, email="zhen.yinshi@example.cn", name="甄隐士")
    assert await departures.erase_again(now=now) == [person.id]
    assert (await User.get(id=person.id)).erase_after == erase_after  # when it was due
    assert await departures.erase_again(now=now) == []  # once is enough
    assert await erasure.erase_due(now=erase_after + timedelta(seconds=1), var_dir=settings.var_dir)
    assert (await User.get(id=person.id)).email is None


async def test_a_restore_older_than_an_erasure_erases_the_person_again_at_once(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    person = await make_user(email="zhen.yinshi@example.cn", name="甄隐士")
    await User.filter(id=person.id).update(erase_after=now - timedelta(days=1))
    [erased] = await erasure.erase_due(now=now, var_dir=settings.var_dir)
    assert erased.user_id == person.id
    [entry] = await departures.departures()
    assert (entry.user_id, entry.erased_at) == (person.id, now)
    await restored_from_before(person.id, email="zhen.yinshi@example.cn", name="甄隐士")
    later = now + timedelta(days=2)
    assert await departures.erase_again(now=later) == [person.id]
    assert await erasure.erase_due(now=later, var_dir=settings.var_dir)
    user = await User.get(id=person.id)
    assert (user.email, user.erased_at) == (None, later)


async def test_staying_leaves_nothing_to_erase_again() -> None:
    now = datetime.now(UTC)
    person = await make_user()
    await accounts_leaving.ask_to_leave(
        person, password=PASSWORD, code=None, now=now, days=15, counter=MemoryCounter()
    )
    await accounts_leaving.undo_leaving(await User.get(id=person.id), now=now)
    assert await departures.departures() == []
    assert await departures.erase_again(now=now) == []
    assert (await User.get(id=person.id)).erase_after is None


async def test_the_ledger_forgets_an_erasure_once_no_backup_from_before_it_is_kept(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    person = await make_user()
    await User.filter(id=person.id).update(erase_after=now - timedelta(days=1))
    await erasure.erase_due(now=now, var_dir=settings.var_dir)
    assert await departures.forget_old(now=now + timedelta(days=29)) == 0
    assert await departures.forget_old(now=now + timedelta(days=31)) == 1
    assert await departures.departures() == []


async def test_a_ledger_that_cannot_be_written_does_not_stop_the_leaving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the storage's folder should be")
    person = await make_user()
    with Wiring(((STORAGE, LocalStorage(blocked)),)).bound():
        await accounts_leaving.ask_to_leave(
            person, password=PASSWORD, code=None, now=datetime.now(UTC), days=15,
            counter=MemoryCounter(),
        )  # fmt: skip
    assert (await User.get(id=person.id)).erase_after is not None
    assert "departures: not written" in caplog.text


async def test_shuyuan_erase_again_reads_the_ledger_in_the_settings_storage(
    settings: Settings, tmp_path: Path
) -> None:
    # The command an operator runs after a restore: the ledger in its storage (var_dir here),
    # the accounts in its database.
    var_dir = tmp_path / "var"
    now = datetime.now(UTC)
    person = await make_user()
    with Wiring(((STORAGE, LocalStorage(var_dir)),)).bound():
        await departures.asked_to_leave(person.id, now + timedelta(days=15))
    command = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "erase-again"],
        cwd=ROOT,
        env={**server_environment(settings), "SHUYUAN_VAR_DIR": str(var_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert command.returncode == 0, command.stderr
    assert f"accounts set to be erased again: 1: {person.id}" in command.stdout
    assert (await User.get(id=person.id)).erase_after == now + timedelta(days=15)
