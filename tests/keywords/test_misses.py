"""What members wanted: lookups nothing answered, counted per Asia/Shanghai day and folded
keyword (bounded a day), listed for admins by frequency with what answers them now, and let go
after half a year."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
from starlette.applications import Starlette

from community.feed.errors import UnknownKeyword
from jobs.schedule import PERIODIC, JobContext
from jobs.worker import write_counts
from keywords import misses, services, tasks
from keywords.matching import read_rule_book
from keywords.memory import MISSES_HELD
from keywords.models import AutoReply, KeywordMiss
from tests.keywords.conftest import ask, make_item, make_rule

# 10:00 in Shanghai on 1 March, and the next morning.
MORNING = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
NEXT_MORNING = MORNING + timedelta(days=1)


async def miss(app: Starlette, word: str, now: datetime) -> None:
    memory = app.state.memory
    memories = services.Memories(keywords=memory.keywords, feed=memory.feed)
    try:
        await services.answer(word, now=now, reader=None, memories=memories)
    except UnknownKeyword:
        return
    raise AssertionError(f"{word} was answered")


async def rows(app: Starlette) -> list[tuple[date, str, str, int]]:
    """The misses as written, once this worker's counts are (every few seconds in an app)."""
    await tasks.flush_counts(app.state.memory.keywords)
    return [
        (row.day, row.key, row.sample, row.count)
        for row in await KeywordMiss.all().order_by("day", "key")
    ]


async def test_two_lookups_of_one_folded_word_on_one_day_count_two(app: Starlette) -> None:
    await miss(app, "直播 回放", MORNING)
    await miss(app, "直播回放", MORNING + timedelta(hours=3))
    assert await rows(app) == [(date(2027, 3, 1), "直播回放", "直播 回放", 2)]


async def test_traditional_and_case_fold_into_the_same_row(app: Starlette) -> None:
    await miss(app, "電子書", MORNING)
    await miss(app, "电子书", MORNING)
    await miss(app, "Kindle", MORNING)
    await miss(app, "KINDLE！", MORNING)
    assert await rows(app) == [
        (date(2027, 3, 1), "kindle", "Kindle", 2),
        (date(2027, 3, 1), "电子书", "電子書", 2),
    ]


async def test_the_next_shanghai_day_starts_a_new_row(app: Starlette) -> None:
    await miss(app, "直播", MORNING)
    # 23:30 in Shanghai is still the first of March; half an hour later it is the second.
    await miss(app, "直播", datetime(2027, 3, 1, 15, 30, tzinfo=UTC))
    await miss(app, "直播", datetime(2027, 3, 1, 16, 0, tzinfo=UTC))
    await miss(app, "直播", NEXT_MORNING)
    assert await rows(app) == [
        (date(2027, 3, 1), "直播", "直播", 2),
        (date(2027, 3, 2), "直播", "直播", 2),
    ]


async def test_answered_words_are_not_counted(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_rule(("客服", "equal"))
    await make_item("时间")
    assert (await ask(client, "客服")).status_code == 200
    assert (await ask(client, "時間")).status_code == 200
    assert (await ask(client, "没有")).status_code == 404
    assert [key for _day, key, _sample, _count in await rows(app)] == ["没有"]


async def test_a_blank_lookup_is_not_counted(app: Starlette, client: httpx.AsyncClient) -> None:
    assert (await ask(client, "   ")).status_code == 404
    assert await rows(app) == []


async def test_past_the_days_limit_new_words_are_counted_together(app: Starlette) -> None:
    memory = app.state.memory.keywords
    for word in ("词a", "词b", "词c", "词d", "词a"):
        misses.record(memory, word, now=MORNING)
    await misses.flush(memory, kept_a_day=2)
    assert await rows(app) == [
        (date(2027, 3, 1), misses.OTHER, "", 2),  # 词c, 词d: the limit counts the row too
        (date(2027, 3, 1), "词a", "词a", 2),
        (date(2027, 3, 1), "词b", "词b", 1),
    ]


async def test_a_long_lookup_is_kept_cut_to_its_bound(app: Starlette) -> None:
    await miss(app, "长" * 100, MORNING)
    await miss(app, "㈜" * 100, MORNING)  # NFKC: three characters each
    kept = await rows(app)
    assert {len(key) for _day, key, _sample, _count in kept} == {100}
    listed = await misses.missed(days=1, now=MORNING, book=await read_rule_book())
    assert [len(m.key) for m in listed] == [100, 100]


async def test_the_list_sums_the_days_the_most_typed_first_and_marks_what_answers_now(
    app: Starlette,
) -> None:
    for word, at, times in (
        ("直播", MORNING, 2),
        ("直播", NEXT_MORNING, 2),
        ("电子书", NEXT_MORNING, 3),
        ("退款", NEXT_MORNING, 1),
        ("去年的词", MORNING - timedelta(days=40), 9),
    ):
        for _ in range(times):
            await miss(app, word, at)
    await tasks.flush_counts(app.state.memory.keywords)
    await make_rule(("退款", "contain"), now=NEXT_MORNING)
    listed = await misses.missed(days=7, now=NEXT_MORNING, book=await read_rule_book())
    assert [(m.key, m.count, m.answered) for m in listed] == [
        ("直播", 4, False),
        ("电子书", 3, False),
        ("退款", 1, True),
    ]
    last_week = await misses.missed(days=1, now=NEXT_MORNING, book=await read_rule_book())
    assert [m.key for m in last_week] == ["电子书", "直播", "退款"]  # yesterday left out
    assert listed[0].last_at == NEXT_MORNING


async def test_the_api_lists_misses_of_the_days_asked_for(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await make_item("时间")
    for word in ("直播", "直播", "电子书"):
        await ask(client, word)
    answer = await client.get(
        "/api/v1/admin/keyword-misses", params={"days": 30}, headers=admin_headers
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["days"] == 30
    assert [
        (m["keyword"], m["sample"], m["count"], m["answered"], m["other"]) for m in body["items"]
    ] == [
        ("直播", "直播", 2, False, False),
        ("电子书", "电子书", 1, False, False),
    ]
    bad = await client.get(
        "/api/v1/admin/keyword-misses", params={"days": 0}, headers=admin_headers
    )
    assert bad.status_code == 422


async def test_the_job_lets_go_of_misses_older_than_half_a_year(app: Starlette) -> None:
    today = datetime.now(UTC)
    await miss(app, "旧词", today - timedelta(days=misses.KEEP_DAYS + 1))
    await miss(app, "新词", today - timedelta(days=misses.KEEP_DAYS - 1))
    await tasks.flush_counts(app.state.memory.keywords)
    [job] = [job for job in PERIODIC if job.name == "keywords.prune_misses"]
    context = JobContext(provider=app.state.payments_provider, memory=app.state.memory)
    assert await job.run(context, today) == {"pruned": 1}
    assert [key for _day, key, _sample, _count in await rows(app)] == ["新词"]


async def test_a_miss_is_written_by_the_flush_not_by_the_lookup(app: Starlette) -> None:
    await miss(app, "直播", MORNING)
    assert await KeywordMiss.all().count() == 0
    assert await tasks.flush_counts(app.state.memory.keywords) == 1
    assert await KeywordMiss.all().values_list("key", "count") == [("直播", 1)]


async def test_past_the_words_a_worker_holds_a_new_word_waits_for_the_next_flush(
    app: Starlette,
) -> None:
    memory = app.state.memory.keywords
    for n in range(MISSES_HELD):
        misses.record(memory, f"词{n}", now=MORNING)
    misses.record(memory, "词0", now=MORNING)  # held already: still counted
    misses.record(memory, "新来的词", now=MORNING)  # one too many: dropped
    assert len(memory.misses) == MISSES_HELD
    assert memory.misses[(date(2027, 3, 1), "词0")].count == 2
    assert (date(2027, 3, 1), "新来的词") not in memory.misses


async def test_a_word_a_scheduled_feed_item_has_is_marked_so_no_rule_is_offered(
    app: Starlette,
) -> None:
    await miss(app, "读书会", MORNING)
    await tasks.flush_counts(app.state.memory.keywords)
    await make_item("读书会", publish_at=datetime.now(UTC) + timedelta(days=3))
    listed = await misses.missed(days=1, now=MORNING, book=await read_rule_book())
    assert [(m.key, m.answered) for m in listed] == [("读书会", True)]


async def test_the_workers_periodic_write_takes_the_keyword_counts_too(app: Starlette) -> None:
    await make_rule(("客服", "equal"), memory=app.state.memory.keywords)
    await miss(app, "直播", MORNING)
    memories = services.Memories.of(app.state.memory)
    await services.answer("客服", now=MORNING, reader=None, memories=memories)
    await write_counts(app.state.memory)  # what the app's background task runs every 5 s
    assert await KeywordMiss.all().values_list("key", "count") == [("直播", 1)]
    assert await AutoReply.all().values_list("hits", flat=True) == [1]
