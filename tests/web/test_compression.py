"""Compressed answers (web.compression) and the masked CSRF token that keeps them from
leaking it (BREACH)."""

from __future__ import annotations

import gzip

import httpx
import pytest

from tests.factories import csrf_from, make_user, sign_in
from web.compression import GZIP_LEVEL, fitted_gzip


@pytest.mark.parametrize("encoding", ["gzip", "br"])
async def test_a_page_and_the_stylesheet_are_sent_compressed(
    client: httpx.AsyncClient, encoding: str
) -> None:
    for path in ("/store", "/static/css/site.css"):
        answer = await client.get(path, headers={"Accept-Encoding": encoding})
        assert answer.status_code == 200, path
        assert answer.headers["content-encoding"] == encoding, path
        assert "accept-encoding" in answer.headers["vary"].lower(), path
        assert len(answer.content) > 500  # decoded by the client: the whole answer is there


async def test_the_compressed_bytes_are_a_real_gzip_of_the_page(client: httpx.AsyncClient) -> None:
    async with client.stream(
        "GET", "/static/css/site.css", headers={"Accept-Encoding": "gzip"}
    ) as answer:
        raw = b"".join([chunk async for chunk in answer.aiter_raw()])
    plain = await client.get("/static/css/site.css", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(raw) == plain.content
    assert len(raw) < len(plain.content) / 2


@pytest.mark.parametrize("size", [600, 4_000, 40_000, 400_000])
def test_a_gzip_fitted_to_the_body_is_as_small_as_the_default_one(size: int) -> None:
    body = (b"<li>\xe4\xb9\xa6\xe9\x99\xa2 %d</li>" * 50_000)[:size]
    fitted = fitted_gzip(body, GZIP_LEVEL)
    assert gzip.decompress(fitted) == body
    assert len(fitted) <= len(gzip.compress(body, GZIP_LEVEL)) * 1.02


async def test_a_page_is_gzipped_by_the_fitted_compressor(client: httpx.AsyncClient) -> None:
    async with client.stream("GET", "/store", headers={"Accept-Encoding": "gzip"}) as answer:
        raw = b"".join([chunk async for chunk in answer.aiter_raw()])
    assert answer.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw).startswith(b"<!doctype html>")
    # zlib's own gzip header: no time in it (the standard library's gzip.compress writes one).
    assert raw[4:8] == b"\0\0\0\0"


async def test_json_answers_are_compressed_too(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.json()["openapi"].startswith("3.")


async def test_two_pages_of_one_session_carry_differently_masked_tokens_both_accepted(
    client: httpx.AsyncClient,
) -> None:
    user = await make_user()
    await sign_in(client, user)
    first = csrf_from((await client.get("/account")).text)
    second = csrf_from((await client.get("/account")).text)
    assert first != second  # a fresh mask on every page: no secret repeats under compression
    for token in (first, second):
        answer = await client.post("/account/notifications/read-all", data={"csrf_token": token})
        assert answer.status_code in (200, 303), answer.text
    # A token with one character changed, or of another length, is refused.
    wrong = first[:-2] + ("AA" if first[-2:] != "AA" else "BB")
    for token in (wrong, first[:40], "", "x" * 500):
        refused = await client.post("/account/notifications/read-all", data={"csrf_token": token})
        assert refused.status_code == 403, token
