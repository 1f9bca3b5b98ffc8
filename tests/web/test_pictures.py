"""Pictures are read cheaply first and decoded off the event loop, in a bounded pool of
processes: a costly picture is refused from its header, others never stall the app, and an
account cannot upload avatars without end."""

from __future__ import annotations

import asyncio
import io
import os
import re
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette

from accounts.profiles import AVATAR_CHANGES
from errors import ServiceUnavailable
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
        health = await client.get("/healthz")
        assert health.status_code == 200
        assert not uploading.done()  # /healthz answered while the upload waited
    finally:
        release.touch()
        await holding
    answer = await uploading
    assert answer.status_code == 200, answer.text
    # A new account's avatar, waiting for a moderator (named with a mark nobody can guess).
    assert re.fullmatch(
        r"/media/avatars/user-\d+-v1-[0-9a-f]{20}-large\.jpg", answer.json()["avatar_url"]
    )


async def test_a_picture_too_costly_to_decode_is_refused_from_its_header(
    app: Starlette, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    token = await token_for(await make_user())
    worst = png(6300, 6300)  # 39.7 megapixels, about 120 KB: 119 MB decoded
    assert len(worst) < 200_000
    app.state.pictures.close()
    app.state.pictures = PicturePool(processes=1)
    release = tmp_path / "release"
    holding = asyncio.create_task(app.state.pictures.run(wait_for_file, str(release)))
    try:
        await asyncio.sleep(0.3)
        # Answered while the pool's one process is held: refused without reaching the pool.
        refused = await upload(client, token, worst)
        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == "avatar"
        bomb = await upload(client, token, text_bomb())
        assert bomb.status_code == 422  # a malformed header is a refusal, never a 500
    finally:
        release.touch()
        await holding
    fine = await upload(client, token, png(3000, 2000))
    assert fine.status_code == 200


def text_bomb() -> bytes:
    """A small PNG whose text chunk inflates past what Pillow will read (ValueError)."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "x" * 8_000_000, zip=True)
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


@pytest.mark.parametrize("mode", ["P", "1", "I;16", "LA", "RGBA", "GIF"])
async def test_pictures_of_every_common_mode_are_read(app: Starlette, mode: str) -> None:
    out = io.BytesIO()
    if mode == "GIF":
        Image.new("P", (1200, 1200), 3).save(out, "GIF")
    else:
        Image.new(mode, (1200, 1200)).save(out, "PNG")
    jpegs = await resize_upload(out.getvalue(), app.state.pictures)
    assert Image.open(io.BytesIO(jpegs["large"])).size == (1200, 1200)


async def test_the_pool_keeps_working_after_bursts_and_a_dead_process(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """More pictures than a pool serves before it is replaced, at once and one by one; then a
    process dies (the kernel's OOM killer) and the next pictures still go through."""
    pool: PicturePool = app.state.pictures
    picture = png(300, 300)
    sizes = [await resize_upload(picture, pool) for _ in range(3)]
    assert all(size["thumb"] for size in sizes)
    burst = await asyncio.gather(*(resize_upload(picture, pool) for _ in range(10)))
    assert len(burst) == 10
    for _ in range(PicturePool.TASKS_PER_POOL + 4):
        assert (await resize_upload(picture, pool))["large"]
    with pytest.raises(ServiceUnavailable):
        await pool.run(os._exit, 1)
    assert (await resize_upload(picture, pool))["large"]


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
    users = [await make_user() for _ in range(2)]
    tokens = [await token_for(user) for user in users]
    hold = asyncio.create_task(app.state.pictures.run(wait_for_file, str(release)))
    first = asyncio.create_task(upload(client, tokens[0], png(400, 400)))
    try:
        await asyncio.sleep(0.5)
        assert not first.done()  # admitted, waiting for the held process
        busy = await upload(client, tokens[1], png(400, 400))
        assert busy.status_code == 503, busy.text
        assert "Retry-After" in busy.headers
        # Turned away before anything was read: it does not count against the avatar limit.
        assert await app.state.counter.count(f"avatar:{users[1].id}", AVATAR_CHANGES) == 0
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
