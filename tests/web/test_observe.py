"""What an operator sees: request ids, /metrics (one worker and two), JSON logs without secrets."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from app import create_app
from settings import Settings
from store import services as store
from tests.factories import PASSWORD, SHIPPING, bearer, csrf_from, make_user, token_for
from tests.live import running_server_process


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of the metric `name` in a scrape, by its labels."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def holds(text: str, outcome: str) -> float:
    return sum(
        value
        for labels, value in samples(text, "shuyuan_holds_total").items()
        if ("outcome", outcome) in labels
    )


async def test_every_answer_carries_a_request_id_and_error_pages_show_it(
    client: httpx.AsyncClient,
) -> None:
    first, second = await client.get("/healthz"), await client.get("/healthz")
    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    given = await client.get("/healthz", headers={"X-Request-ID": "edge-1234abcd"})
    assert given.headers["x-request-id"] == "edge-1234abcd"  # a proxy's id is kept
    odd = await client.get("/healthz", headers={"X-Request-ID": "<script>" + "x" * 100})
    assert odd.headers["x-request-id"] != "<script>" + "x" * 100
    missing = await client.get("/store/products/999999")
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] in missing.text


async def test_metrics_count_holds_and_sold_out_answers(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    drop = await store.create_product(
        title="黄铜书签", description="", category="逼格工场", price_fen=9_900, stock=2
    )
    for _ in range(3):
        headers = bearer(await token_for(await make_user()))
        await client.post(
            "/api/v1/orders",
            json={"items": [{"product_id": drop.id, "quantity": 1}]},
            headers=headers,
        )
    scrape = await client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    after = scrape.text
    assert holds(after, "held") - holds(before, "held") == 2
    assert holds(after, "sold_out") - holds(before, "sold_out") == 1
    latency = samples(after, "shuyuan_request_seconds_count")
    assert any(("route", "store.api.create_order") in labels for labels in latency)


async def test_metrics_are_not_served_to_other_addresses(settings: Settings) -> None:
    elsewhere = create_app(
        replace(settings, metrics_from=("10.0.0.0/8",)),
        manage_database=False,
        background_tasks=False,
    )
    transport = httpx.ASGITransport(app=elsewhere)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await http.get("/metrics")).status_code == 404
    await elsewhere.state.counter.aclose()
    await elsewhere.state.payments_provider.aclose()


async def test_two_workers_report_every_hold_and_log_json_lines_without_secrets(
    app: Starlette, settings: Settings
) -> None:
    drop = await store.create_product(
        title="限量帆布袋", description="", category="逼格工场", price_fen=5_900, stock=6
    )
    person = await make_user(email="watched@example.cn")
    tokens = [await token_for(await make_user()) for _ in range(8)]
    with running_server_process(settings, workers=2) as (base_url, _):
        async with httpx.AsyncClient(base_url=base_url, timeout=20) as http:
            ids = []
            for token in tokens:  # new connections: the kernel hands them to either worker
                async with httpx.AsyncClient(base_url=base_url, timeout=20) as fresh:
                    answer = await fresh.post(
                        "/api/v1/orders",
                        json={
                            "items": [{"product_id": drop.id, "quantity": 1}],
                            "shipping": SHIPPING,
                        },
                        headers=bearer(token),
                    )
                    ids.append(answer.headers["x-request-id"])
            page = await http.get("/account/login")
            signed_in = await http.post(
                "/account/login",
                data={
                    "email": person.email,
                    "password": PASSWORD,
                    "csrf_token": csrf_from(page.text),
                },
            )
            assert signed_in.status_code == 303
            scrape = (await http.get("/metrics")).text
    assert holds(scrape, "held") == 6
    # Each refusal came from a hold that found nothing, or from its worker's memory of that.
    assert sum(samples(scrape, "shuyuan_sold_out_answers_total").values()) == 2

    log_file = settings.var_dir / f"serve-{urlsplit(base_url).port}.log"
    text = log_file.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("message") == "request"]
    assert {line["request_id"] for line in requests} >= set(ids)
    assert all(line["route"] != "unmatched" for line in requests if line["request_id"] in ids)
    for secret in (PASSWORD, *tokens, settings.secret_key):
        assert secret not in text
