"""The auto-replies API: rules saved in their fixed shape, refused when a keyword is taken (by a
rule or a live feed item: 409 keyword_taken) or the input is bad (422 with a code, never a 500),
listed, changed and deleted with audit entries; admins only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from accounts.models import AuditEntry
from keywords.models import AutoReply, AutoReplyAnswer, AutoReplyKeyword
from tests.factories import bearer, make_user, token_for
from tests.keywords.conftest import ask, make_item, make_post, make_product, make_rule, text

URL = "/api/v1/admin/auto-replies"


def rule_body(*keywords: str, match: str = "equal", **fields: Any) -> dict[str, Any]:
    return {
        "keywords": [{"text": word, "match": match} for word in keywords],
        "replies": [{"kind": "text", "text": "回复"}],
        **fields,
    }


async def test_a_saved_auto_reply_answers_201_with_its_id(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    product = await make_product()
    post = await make_post()
    item = await make_item("时间")
    body = {
        "keywords": [{"text": "女装", "match": "contain"}, {"text": "裙子", "match": "equal"}],
        "replies": [
            {"kind": "text", "text": "春季上新"},
            {"kind": "product", "id": product.id},
            {"kind": "window"},
            {"kind": "post", "id": post.id},
            {"kind": "feed_item", "id": item.id},
        ],
        "mode": "random_one",
    }
    answer = await client.post(URL, json=body, headers=admin_headers)
    assert answer.status_code == 201
    rule = await AutoReply.get()
    assert answer.json() == {"id": rule.id}
    assert rule.mode == "random_one"
    keywords = await AutoReplyKeyword.filter(rule_id=rule.id).order_by("id")
    assert [(k.text, k.key, k.match) for k in keywords] == [
        ("女装", "女装", "contain"),
        ("裙子", "裙子", "equal"),
    ]
    replies = await AutoReplyAnswer.filter(rule_id=rule.id).order_by("position")
    assert [(r.kind, r.text, r.target_id) for r in replies] == [
        ("text", "春季上新", None),
        ("product", None, product.id),
        ("window", None, None),
        ("post", None, post.id),
        ("feed_item", None, item.id),
    ]
    assert await AuditEntry.filter(action="auto_reply.create", object_id=str(rule.id)).exists()


async def test_a_keyword_another_rule_has_is_refused_409_even_in_traditional(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await make_rule(("时间", "contain"))
    again = await client.post(URL, json=rule_body("時 間"), headers=admin_headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "keyword_taken"
    assert "時 間" in again.json()["error"]["message"]
    assert await AutoReply.all().count() == 1


async def test_a_keyword_a_live_feed_item_has_is_refused_409(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await make_item("读书会", title="周六读书会")
    taken = await client.post(URL, json=rule_body("讀書會"), headers=admin_headers)
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "keyword_taken"
    assert "周六读书会" in taken.json()["error"]["message"]


async def test_a_keyword_a_scheduled_feed_item_has_is_refused_409(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await make_item("读书会", title="下周读书会", publish_at=datetime.now(UTC) + timedelta(days=3))
    taken = await client.post(URL, json=rule_body("读书会"), headers=admin_headers)
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "keyword_taken"
    assert "下周读书会" in taken.json()["error"]["message"]


async def test_a_keyword_of_an_unpublished_feed_item_is_free(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    item = await make_item("读书会")
    await client.post(f"/api/v1/admin/feed-items/{item.id}/unpublish", headers=admin_headers)
    assert (
        await client.post(URL, json=rule_body("读书会"), headers=admin_headers)
    ).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"keywords": [], "replies": [{"kind": "text", "text": "x"}]}, "keywords"),
        ({"keywords": [{"text": "书"}], "replies": []}, "replies"),
        ({"replies": [{"kind": "text", "text": "x"}]}, "keywords"),
        (
            {"keywords": [{"text": "书"}], "replies": [{"kind": "video", "id": 1}]},
            "replies[0].kind",
        ),
        ({"keywords": [{"text": "书"}], "replies": [{"kind": "product"}]}, "replies[0].id"),
        ({"keywords": [{"text": "书"}], "replies": [{"kind": "text"}]}, "replies[0].text"),
        ({"keywords": [{"text": "书"}], "replies": [{"kind": "post", "id": 999}]}, "replies[0].id"),
        (
            {"keywords": [{"text": "书", "match": "fuzzy"}], "replies": [{"kind": "window"}]},
            "keywords[0].match",
        ),
        ({"keywords": [{"text": "书" * 41}], "replies": [{"kind": "window"}]}, "keywords[0].text"),
        (
            {"keywords": [{"text": "ㄱ" * 20 + "㈜" * 20}], "replies": [{"kind": "window"}]},
            "keywords[0].text",
        ),
        (
            {"keywords": [{"text": "！？"}, {"text": "！ ？"}], "replies": [{"kind": "window"}]},
            "keywords[1].text",
        ),
        (
            {"keywords": [{"text": "書"}, {"text": "书"}], "replies": [{"kind": "window"}]},
            "keywords[1].text",
        ),
        (
            {"keywords": [{"text": "a\\u0000b"}], "replies": [{"kind": "window"}]},
            "keywords[0].text",
        ),
        (
            {"keywords": [{"text": "书"}], "replies": [{"kind": "text", "text": "长" * 1001}]},
            "replies[0].text",
        ),
        (
            {"keywords": [{"text": f"词{n}"} for n in range(21)], "replies": [{"kind": "window"}]},
            "keywords",
        ),
        ({"keywords": [{"text": "书"}], "replies": [{"kind": "window"}] * 11}, "replies"),
        (
            {"keywords": [{"text": "书"}], "replies": [{"kind": "window"}], "mode": "sometimes"},
            "mode",
        ),
        ({"keywords": [{"text": "   "}], "replies": [{"kind": "window"}]}, "keywords[0].text"),
        (
            {"keywords": [{"text": "Ｃ", "match": "contain"}], "replies": [{"kind": "window"}]},
            "keywords[0].text",
        ),
        (
            {"keywords": [{"text": " 7 ", "match": "contain"}], "replies": [{"kind": "window"}]},
            "keywords[0].text",
        ),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    raw = httpx.Request("POST", "/", json=body).content.replace(b"\\\\u0000", b"\\u0000")
    answer = await client.post(
        URL, content=raw, headers={**admin_headers, "content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_field"
    assert answer.json()["error"]["field"] == field
    assert await AutoReply.all().count() == 0


async def test_the_keyword_reply_of_an_unknown_word_is_404_with_the_hint(
    client: httpx.AsyncClient,
) -> None:
    await make_item("时间")
    answer = await ask(client, "没有这个词")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "unknown_keyword"
    assert answer.json()["error"]["hint"] == "时间"


@pytest.mark.parametrize(
    ("word", "status"), [("", 404), ("   ", 404), ("x" * 101, 422), ("a\x00b", 422)]
)
async def test_a_bad_keyword_query_is_answered_without_a_server_error(
    client: httpx.AsyncClient, word: str, status: int
) -> None:
    assert (await ask(client, word)).status_code == status


async def test_a_member_and_support_staff_may_not_save_or_list_auto_replies(
    client: httpx.AsyncClient,
) -> None:
    for role in (None, "support", "moderator"):
        headers = bearer(await token_for(await make_user(role=role)))
        assert (await client.post(URL, json=rule_body("书"), headers=headers)).status_code == 403
        assert (await client.get(URL, headers=headers)).status_code == 403
        misses = await client.get("/api/v1/admin/keyword-misses", headers=headers)
        assert misses.status_code == 403
    assert (await client.post(URL, json=rule_body("书"))).status_code == 401
    assert await AutoReply.all().count() == 0


async def test_the_list_shows_each_rule_as_it_was_saved_with_its_hits(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    rule = await make_rule(
        ("客服", "equal"), ("联系", "contain"), replies=[text("工作日九点到六点")]
    )
    await ask(client, "联系我们")
    listed = (await client.get(URL, headers=admin_headers)).json()["items"]
    assert listed == [
        {
            "id": rule.id,
            "keywords": [{"text": "客服", "match": "equal"}, {"text": "联系", "match": "contain"}],
            "replies": [{"kind": "text", "text": "工作日九点到六点"}],
            "mode": "all",
            "hits": 1,
            "created_at": listed[0]["created_at"],
            "updated_at": listed[0]["updated_at"],
        }
    ]
    one = await client.get(f"{URL}/{rule.id}", headers=admin_headers)
    assert one.json() == listed[0]


async def test_an_edit_replaces_keywords_and_replies_and_frees_the_old_keyword(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    saved = await client.post(URL, json=rule_body("客服"), headers=admin_headers)
    rule_id = saved.json()["id"]
    edited = await client.put(
        f"{URL}/{rule_id}",
        json={**rule_body("联系我们", "客服"), "mode": "random_one"},
        headers=admin_headers,
    )
    assert edited.status_code == 200
    assert [k["text"] for k in edited.json()["keywords"]] == ["联系我们", "客服"]
    assert edited.json()["mode"] == "random_one"
    freed = await client.put(f"{URL}/{rule_id}", json=rule_body("联系我们"), headers=admin_headers)
    assert freed.status_code == 200
    other = await client.post(URL, json=rule_body("客服"), headers=admin_headers)
    assert other.status_code == 201
    taken = await client.put(f"{URL}/{rule_id}", json=rule_body("客服"), headers=admin_headers)
    assert taken.status_code == 409
    entries = await AuditEntry.filter(action="auto_reply.update", object_id=str(rule_id))
    assert len(entries) == 2
    assert entries[0].before == {
        "keywords": [{"text": "客服", "match": "equal"}],
        "mode": "all",
    }


async def test_a_deleted_rule_answers_no_more_and_is_audited(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    rule_id = (await client.post(URL, json=rule_body("客服"), headers=admin_headers)).json()["id"]
    assert (await ask(client, "客服")).status_code == 200
    assert (await client.delete(f"{URL}/{rule_id}", headers=admin_headers)).status_code == 204
    assert (await ask(client, "客服")).status_code == 404
    assert await AutoReplyKeyword.all().count() == 0
    entry = await AuditEntry.get(action="auto_reply.delete", object_id=str(rule_id))
    assert entry.before["keywords"] == [{"text": "客服", "match": "equal"}]
    gone = await client.delete(f"{URL}/{rule_id}", headers=admin_headers)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


async def test_a_rule_stays_editable_after_a_feed_item_takes_one_of_its_keywords(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    saved = await client.post(URL, json=rule_body("读书会", "书单"), headers=admin_headers)
    await make_item("读书会")
    edited = await client.put(
        f"{URL}/{saved.json()['id']}",
        json={**rule_body("读书会", "书单"), "mode": "random_one"},
        headers=admin_headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["mode"] == "random_one"
