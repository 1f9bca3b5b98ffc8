"""Pictures are read cheaply first and decoded off the event loop, in a bounded pool of
processes: a costly picture is refused from its header, others never stall the app, and an
account cannot upload avatars without end."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette

from accounts.profiles import AVATAR_CHANGES
from pictures import PicturePool
from store.images import resize_upload
from tests.factories import bearer, make_user, token_for


def png(width: int, height: int) -> bytes:
    """A picture that is small as a file and large once decoded (one colour compresses well)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


def wait_for_file(path: str) -> str:
    """Held in a pool process until `path` exists (the test's hand on the pool)."""
    deadline = time.monotonic() + 30
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return path


async def upload(client: httpx.AsyncClient, token: str, data: bytes) -> httpx.Response:
    return await client.post(
        "/api/v1/me/avatar",
        files={"avatar": ("me.png", data, "image/png")},
        headers=bearer(token),
    )


async def test_healthz_answers_while_the_pool_holds_an_avatar_upload(
    app: Starlette, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    app.state.pictures.close()
    app.state.pictures = PicturePool(processes=1)  # one process: holding it holds every decode
    token = await token_for(await make_user())
    release = tmp_path / "release"
    holding = asyncio.create_task(app.state.pictures.run(wait_for_file, str(release)))
    uploading = asyncio.create_task(upload(client, token, png(900, 600)))
    try:
        await asyncio.sleep(0.5)
        assert not uploading.done()  # waiting for the pool's one process
        started = time.perf_counter()
        health = await client.get("/healthz")
        assert health.status_code == 200
        assert time.perf_counter() - started < 2
        assert not uploading.done()
    finally:
        release.touch()
        await holding
    answer = await uploading
    assert answer.status_code == 200, answer.text
    assert answer.json()["avatar_url"].endswith("-v1-large.jpg")


async def test_a_picture_too_costly_to_decode_is_refused_from_its_header(
    client: httpx.AsyncClient,
) -> None:
    token = await token_for(await make_user())
    worst = png(6300, 6300)  # 39.7 megapixels, about 120 KB: 119 MB decoded
    assert len(worst) < 200_000
    started = time.perf_counter()
    refused = await upload(client, token, worst)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "avatar"
    assert time.perf_counter() - started < 1  # no decode happened
    fine = await upload(client, token, png(3000, 2000))
    assert fine.status_code == 200


async def test_avatar_changes_are_limited_per_account(client: httpx.AsyncClient) -> None:
    token = await token_for(await make_user())
    small = png(64, 64)
    for _ in range(AVATAR_CHANGES.attempts):
        assert (await upload(client, token, small)).status_code == 200
    limited = await upload(client, token, small)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    other = await token_for(await make_user())
    assert (await upload(client, other, small)).status_code == 200


async def test_a_full_pool_answers_503_instead_of_queueing_without_end(
    app: Starlette, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    app.state.pictures.close()
    app.state.pictures = PicturePool(processes=1, waiting=0)  # one picture admitted at a time
    release = tmp_path / "release"
    tokens = [await token_for(await make_user()) for _ in range(2)]
    hold = asyncio.create_task(app.state.pictures.run(wait_for_file, str(release)))
    first = asyncio.create_task(upload(client, tokens[0], png(400, 400)))
    try:
        await asyncio.sleep(0.5)
        assert not first.done()  # admitted, waiting for the held process
        busy = await upload(client, tokens[1], png(400, 400))
        assert busy.status_code == 503, busy.text
        assert "Retry-After" in busy.headers
    finally:
        release.touch()
        await hold
    assert (await first).status_code == 200


@pytest.mark.parametrize("side", [6300])
async def test_product_pictures_take_the_same_path(client: httpx.AsyncClient, side: int) -> None:
    from store import services as store

    product = await store.create_product(
        title="书签", description="", category="文具", price_fen=900, stock=1
    )
    admin = bearer(await token_for(await make_user(admin=True)))
    refused = await client.post(
        f"/api/v1/admin/products/{product.id}/image",
        files={"image": ("big.png", png(side, side), "image/png")},
        headers=admin,
    )
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "image"


async def test_a_phone_photo_taken_sideways_is_turned_upright(app: Starlette) -> None:
    """A phone writes its sensor's pixels and an EXIF orientation (6: turn 90 degrees)."""
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (3000, 1500), (10, 120, 200)).save(out, "JPEG", exif=exif.tobytes())
    jpegs = await resize_upload(out.getvalue(), app.state.pictures)
    large = Image.open(io.BytesIO(jpegs["large"]))
    assert large.height > large.width  # upright: taller than wide
    assert large.size == (1200, 2400)  # 1500 x 3000 upright, then at most 1200 wide
