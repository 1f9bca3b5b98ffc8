"""What the keyword box answers: the daily keyword first, then auto-replies whose keywords are
the whole input or anywhere in it (folded: Traditional, case, width, spaces), all their replies
or one at random, each reply as a member can use it at that moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

import changes
from community.board.models import Post
from community.board.permissions import set_members_only_read
from community.feed.errors import UnknownKeyword
from keywords import services, tasks
from keywords.checks import ReplyInput
from keywords.matching import REFRESH_SECONDS
from keywords.models import AutoReply
from store.models import Product, RaffleEntry
from tests.factories import bearer, make_member, make_user, make_window, token_for
from tests.keywords.conftest import ask, make_item, make_post, make_product, make_rule, text
from wiring import Wiring


async def test_an_equal_keyword_answers_its_word_typed_in_traditional_with_spaces(
    client: httpx.AsyncClient,
) -> None:
    await make_rule(("时间", "equal"), replies=[text("每天早上七点更新。")])
    answer = await ask(client, " 時 間 ")
    assert answer.status_code == 200
    assert answer.json() == {
        "kind": "auto_reply",
        "replies": [{"kind": "text", "text": "每天早上七点更新。"}],
    }


async def test_an_equal_keyword_does_not_answer_a_longer_input(client: httpx.AsyncClient) -> None:
    await make_rule(("时间", "equal"))
    assert (await ask(client, "时间管理")).status_code == 404


async def test_a_contain_keyword_answers_an_input_holding_it_in_traditional(
    client: httpx.AsyncClient,
) -> None:
    await make_rule(("女装", "contain"), replies=[text("春季女装上新")])
    answer = await ask(client, "我想买 女裝")
    assert answer.status_code == 200
    assert answer.json()["replies"] == [{"kind": "text", "text": "春季女装上新"}]


async def test_case_and_full_width_are_folded_too(client: httpx.AsyncClient) -> None:
    await make_rule(("AI", "contain"), replies=[text("人工智能书单")])
    assert (await ask(client, "关于ａｉ的书")).json()["replies"][0]["text"] == "人工智能书单"


async def test_the_longest_contain_keyword_wins(client: httpx.AsyncClient) -> None:
    await make_rule(("女装", "contain"), replies=[text("女装")])
    await make_rule(("真丝女装", "contain"), replies=[text("真丝女装")])
    await make_rule(("裙", "contain"), replies=[text("裙子")])
    await make_rule(("丝女", "contain"), replies=[text("丝女")])
    assert (await ask(client, "有真丝女装裙吗")).json()["replies"] == [
        {"kind": "text", "text": "真丝女装"}
    ]


async def test_between_contain_keywords_of_one_length_the_oldest_rule_wins(
    client: httpx.AsyncClient,
) -> None:
    await make_rule(("书签", "contain"), replies=[text("先来的")])
    await make_rule(("笔记", "contain"), replies=[text("后来的")])
    assert (await ask(client, "笔记和书签")).json()["replies"][0]["text"] == "先来的"


async def test_an_equal_keyword_wins_over_a_longer_contain_keyword(
    client: httpx.AsyncClient,
) -> None:
    await make_rule(("会员", "contain"), replies=[text("包含")])
    await make_rule(("会员卡", "equal"), replies=[text("相等")])
    assert (await ask(client, "会员卡")).json()["replies"][0]["text"] == "相等"


async def test_the_daily_keyword_wins_over_a_contain_rule_that_matches_too(
    client: httpx.AsyncClient,
) -> None:
    await make_rule(("读书", "contain"), replies=[text("书单")])
    item = await make_item("读书会", title="周六读书会")
    answer = await ask(client, "讀書會")
    assert answer.json()["kind"] == "feed_item"
    assert answer.json()["item"]["id"] == item.id
    assert (await ask(client, "读书笔记")).json()["kind"] == "auto_reply"


async def test_the_daily_keyword_wins_over_an_equal_rule_given_the_word_before_it(
    client: httpx.AsyncClient,
) -> None:
    await make_rule(("时间", "equal"), replies=[text("规则")])
    item = await make_item("时间")  # the feed may take a rule's word: it answers first
    answer = await ask(client, "时间")
    assert answer.json() == {"kind": "feed_item", "item": answer.json()["item"]}
    assert answer.json()["item"]["id"] == item.id


async def test_a_feed_item_answers_in_the_feeds_own_shape(client: httpx.AsyncClient) -> None:
    await make_item("认知", members_only=True, teaser="导读")
    feed = (await client.get("/api/v1/feed/lookup", params={"keyword": "认知"})).json()
    box = (await ask(client, "认知")).json()
    assert box == {"kind": "feed_item", "item": feed}
    assert box["item"]["teaser"] == "导读" and "body" not in box["item"]


async def test_all_answers_every_reply_in_order(client: httpx.AsyncClient) -> None:
    await make_rule(("客服", "equal"), replies=[text("一"), text("二"), text("三")], mode="all")
    replies = (await ask(client, "客服")).json()["replies"]
    assert [reply["text"] for reply in replies] == ["一", "二", "三"]


async def test_random_one_answers_exactly_one_of_the_replies(client: httpx.AsyncClient) -> None:
    await make_rule(
        ("早安", "equal"), replies=[text("一"), text("二"), text("三")], mode="random_one"
    )
    seen = set()
    for _ in range(40):
        replies = (await ask(client, "早安")).json()["replies"]
        assert len(replies) == 1
        seen.add(replies[0]["text"])
    assert seen <= {"一", "二", "三"} and len(seen) > 1  # all three never coming: 3 x (2/3)^40


async def test_random_one_never_draws_a_reply_that_can_no_longer_be_used(
    client: httpx.AsyncClient,
) -> None:
    ended = await make_product("去年的礼盒", sale_ends_at=datetime.now(UTC) - timedelta(days=1))
    await make_rule(
        ("礼盒", "equal"),
        replies=[ReplyInput("product", id=ended.id), text("今年的礼盒还在路上")],
        mode="random_one",
    )
    for _ in range(10):
        assert (await ask(client, "礼盒")).json()["replies"] == [
            {"kind": "text", "text": "今年的礼盒还在路上"}
        ]


async def test_a_product_reply_shows_its_price_link_and_whether_it_is_sold_out(
    client: httpx.AsyncClient,
) -> None:
    dress = await make_product("真丝连衣裙", price_fen=29_900, stock=1)
    gone = await make_product("羊绒围巾", stock=0)
    await make_rule(
        ("女装", "contain"),
        replies=[ReplyInput("product", id=dress.id), ReplyInput("product", id=gone.id)],
    )
    first, second = (await ask(client, "女装")).json()["replies"]
    assert first == {
        "kind": "product",
        "id": dress.id,
        "title": "真丝连衣裙",
        "price_fen": 29_900,
        "url": f"http://testserver/store/products/{dress.id}",
        "picture_url": f"http://testserver/store/products/{dress.id}/cover-thumb.png",
        "sold_out": False,
        "members_only": False,
        "sale": "open",
        "sale_opens_at": None,
    }
    assert second["sold_out"] is True


async def test_a_product_no_longer_on_sale_is_skipped(client: httpx.AsyncClient) -> None:
    dress = await make_product("真丝连衣裙")
    await make_rule(
        ("女装", "contain"), replies=[ReplyInput("product", id=dress.id), text("看看别的")]
    )
    await Product.filter(id=dress.id).update(published=False)
    assert (await ask(client, "女装")).json()["replies"] == [{"kind": "text", "text": "看看别的"}]


async def test_a_rule_whose_every_reply_is_gone_answers_nothing_and_the_next_rule_answers(
    client: httpx.AsyncClient,
) -> None:
    dress = await make_product("真丝连衣裙", sale_ends_at=datetime.now(UTC) - timedelta(hours=1))
    await make_rule(("真丝女装", "contain"), replies=[ReplyInput("product", id=dress.id)])
    await make_rule(("女装", "contain"), replies=[text("女装都在这里")])
    await make_rule(("羊绒", "equal"), replies=[ReplyInput("product", id=dress.id)])
    assert (await ask(client, "真丝女装")).json()["replies"] == [
        {"kind": "text", "text": "女装都在这里"}
    ]
    assert (await ask(client, "羊绒")).status_code == 404


async def test_the_window_reply_is_the_open_window_with_its_seats(
    client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    window = await make_window(now=now - timedelta(hours=1), seats=30, price_fen=19_900)
    await make_rule(("会员", "equal"), replies=[ReplyInput("window")])
    [reply] = (await ask(client, "會員")).json()["replies"]
    assert reply["kind"] == "window" and reply["id"] == window.id
    assert reply["state"] == "open" and reply["seats_left"] == 30
    assert reply["url"] == "http://testserver/membership" and reply["price_fen"] == 19_900


async def test_the_window_reply_is_the_next_window_before_it_opens_and_skipped_without_one(
    client: httpx.AsyncClient,
) -> None:
    await make_rule(("会员", "equal"), replies=[ReplyInput("window"), text("会员权益")])
    assert [r["kind"] for r in (await ask(client, "会员")).json()["replies"]] == ["text"]
    await make_window(now=datetime.now(UTC), opens_in=timedelta(days=2))
    assert (await ask(client, "会员")).json()["replies"][0]["state"] == "upcoming"


async def test_a_post_reply_is_skipped_once_the_post_is_hidden(client: httpx.AsyncClient) -> None:
    post = await make_post("女装穿搭分享")
    await make_rule(("穿搭", "equal"), replies=[ReplyInput("post", id=post.id), text("更多")])
    member = bearer(await token_for(await make_member()))
    assert (await ask(client, "穿搭", headers=member)).json()["replies"][0] == {
        "kind": "post",
        "id": post.id,
        "title": "女装穿搭分享",
        "url": f"http://testserver/board/posts/{post.id}",
    }
    await Post.filter(id=post.id).update(hidden=True)
    kinds = [r["kind"] for r in (await ask(client, "穿搭", headers=member)).json()["replies"]]
    assert kinds == ["text"]


async def test_a_post_reply_is_skipped_once_the_post_is_deleted(client: httpx.AsyncClient) -> None:
    post = await make_post("女装穿搭分享")
    await make_rule(("穿搭", "equal"), replies=[ReplyInput("post", id=post.id), text("更多")])
    await Post.filter(id=post.id).update(deleted=True)
    member = bearer(await token_for(await make_member()))
    kinds = [r["kind"] for r in (await ask(client, "穿搭", headers=member)).json()["replies"]]
    assert kinds == ["text"]


async def test_a_visitor_gets_no_post_title_since_the_board_needs_signing_in(
    client: httpx.AsyncClient,
) -> None:
    post = await make_post("林夕的私房穿搭")
    await make_rule(("穿搭", "equal"), replies=[ReplyInput("post", id=post.id), text("更多")])
    answer = await ask(client, "穿搭")
    assert [r["kind"] for r in answer.json()["replies"]] == ["text"]
    assert "林夕的私房穿搭" not in answer.text


async def test_a_non_member_gets_no_post_title_when_the_board_is_members_only(
    client: httpx.AsyncClient,
) -> None:
    post = await make_post("林夕的私房穿搭")
    await make_rule(("穿搭", "equal"), replies=[ReplyInput("post", id=post.id), text("更多")])
    await set_members_only_read(True, actor=None)
    someone = bearer(await token_for(await make_user()))
    assert "林夕的私房穿搭" not in (await ask(client, "穿搭", headers=someone)).text
    member = bearer(await token_for(await make_member()))
    assert "林夕的私房穿搭" in (await ask(client, "穿搭", headers=member)).text


async def test_a_members_only_feed_item_reply_shows_non_members_only_its_teaser(
    client: httpx.AsyncClient,
) -> None:
    item = await make_item("深度", members_only=True, teaser="会员读全文", body="秘密正文" * 50)
    await make_rule(("长文", "equal"), replies=[ReplyInput("feed_item", id=item.id)])
    [reply] = (await ask(client, "长文")).json()["replies"]
    assert reply["teaser"] == "会员读全文" and reply["locked"] is True
    assert "秘密正文" not in (await ask(client, "长文")).text
    member = bearer(await token_for(await make_member()))
    [full] = (await ask(client, "长文", headers=member)).json()["replies"]
    assert full["locked"] is False and full["teaser"].startswith("秘密正文")


async def test_each_answer_counts_a_hit_on_its_rule_written_by_the_flush(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    rule = await make_rule(("客服", "equal"))
    other = await make_rule(("售后", "contain"))
    for word in ("客服", "客服", "我要售后", "客服"):
        await ask(client, word)
    assert (await AutoReply.get(id=rule.id)).hits == 0  # nothing written on the request path
    assert await tasks.flush_hits(app.state.memory.keywords) == 4
    assert (await AutoReply.get(id=rule.id)).hits == 3
    assert (await AutoReply.get(id=other.id)).hits == 1
    await ask(client, "客服")
    await tasks.flush_hits(app.state.memory.keywords)
    assert (await AutoReply.get(id=rule.id)).hits == 4


async def test_another_workers_change_reaches_this_worker_within_a_few_seconds(
    app: Starlette,
) -> None:
    memories = services.Memories(
        keywords=app.state.memory.keywords, feed=app.state.memory.feed, seats=None
    )
    now = datetime.now(UTC)
    with pytest.raises(UnknownKeyword):
        await services.answer("书单", now=now, reader=None, memories=memories, count=False)
    # Saved by another worker whose announcement was lost: this one is not told (changes.HERE
    # is that worker's own memory, not this one's).
    with Wiring(((changes.HERE, lambda change: None), (changes.BUS, changes.NoBus()))).bound():
        await make_rule(("书单", "equal"), now=now)
    with pytest.raises(UnknownKeyword):
        await services.answer("书单", now=now, reader=None, memories=memories, count=False)
    later = now + timedelta(seconds=REFRESH_SECONDS + 1.5)
    found = await services.answer("书单", now=later, reader=None, memories=memories, count=False)
    assert isinstance(found, services.RuleAnswer)


async def test_a_change_saved_in_this_worker_answers_at_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert (await ask(client, "书单")).status_code == 404
    saved = await client.post(
        "/api/v1/admin/auto-replies",
        json={
            "keywords": [{"text": "书单", "match": "equal"}],
            "replies": [{"kind": "text", "text": "十二本"}],
        },
        headers=admin_headers,
    )
    assert saved.status_code == 201
    assert (await ask(client, "书单")).json()["replies"] == [{"kind": "text", "text": "十二本"}]


async def test_a_contain_keyword_keeps_its_symbols_so_c_plus_plus_does_not_answer_cat(
    client: httpx.AsyncClient,
) -> None:
    await make_rule(("C++", "contain"), replies=[text("C++ 入门")])
    assert (await ask(client, "cat")).status_code == 404
    found = await ask(client, "我学C++")
    assert found.json()["replies"] == [{"kind": "text", "text": "C++ 入门"}]


async def test_a_contain_keyword_of_an_emoji_answers_an_input_ending_with_it(
    client: httpx.AsyncClient,
) -> None:
    await make_rule(("🎉", "contain"), replies=[text("生日礼物")])
    found = await ask(client, "生日快乐🎉")
    assert found.json()["replies"] == [{"kind": "text", "text": "生日礼物"}]


async def test_spaces_inside_a_contain_keyword_and_the_input_are_ignored(
    client: httpx.AsyncClient,
) -> None:
    await make_rule(("真丝 女装", "contain"), replies=[text("真丝")])
    found = await ask(client, "有 真丝 女裝 吗")
    assert found.json()["replies"] == [{"kind": "text", "text": "真丝"}]


async def test_a_feed_item_reply_is_skipped_while_the_item_is_scheduled_or_unpublished(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    later = await make_item(
        "下周", title="下周的内容", publish_at=datetime.now(UTC) + timedelta(days=2)
    )
    gone = await make_item("撤下", title="撤下的内容")
    await client.post(f"/api/v1/admin/feed-items/{gone.id}/unpublish", headers=admin_headers)
    await make_rule(
        ("预告", "equal"),
        replies=[
            ReplyInput("feed_item", id=later.id),
            ReplyInput("feed_item", id=gone.id),
            text("敬请期待"),
        ],
    )
    answer = await ask(client, "预告")
    assert [r["kind"] for r in answer.json()["replies"]] == ["text"]
    assert "下周的内容" not in answer.text and "撤下的内容" not in answer.text


async def test_a_drawn_raffles_winner_is_told_the_product_is_open_to_them(
    client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    drop = await make_product("限量帆布包")
    await Product.filter(id=drop.id).update(
        raffle_entries_until=now - timedelta(hours=2), raffle_drawn_at=now - timedelta(minutes=5)
    )
    winner, other = await make_member(), await make_member()
    await RaffleEntry.create(product_id=drop.id, user_id=winner.id, won=True)
    await RaffleEntry.create(product_id=drop.id, user_id=other.id, won=False)
    await make_rule(("帆布包", "equal"), replies=[ReplyInput("product", id=drop.id)])
    mine = await ask(client, "帆布包", headers=bearer(await token_for(winner)))
    theirs = await ask(client, "帆布包", headers=bearer(await token_for(other)))
    assert mine.json()["replies"][0]["sale"] == "open"
    assert theirs.json()["replies"][0]["sale"] == "winners_only"
