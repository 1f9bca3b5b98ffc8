"""The podcast's artwork: drawn until an admin uploads one, always a square JPEG in RGB of the
size Apple Podcasts asks (1400-3000 pixels), served at one address with caching headers."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from accounts.models import AuditEntry
from tests.factories import csrf_from, make_user, sign_in

ARTWORK = "/feed/podcast/artwork.jpg"


def picture(width: int, height: int, mode: str = "RGB") -> bytes:
    """A PNG of two colours (left and right halves), to see which part a square keeps."""
    image = Image.new(mode, (width, height), "#1f2328")
    image.paste("#eee9df", (width // 2, 0, width, height))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def as_admin(client: httpx.AsyncClient) -> str:
    """Sign in as an admin; the feed console's CSRF token."""
    await sign_in(client, (await make_user(admin=True)).email)
    page = await client.get("/admin/feed")
    assert page.status_code == 200
    return csrf_from(page.text)


async def upload(client: httpx.AsyncClient, csrf: str, data: bytes) -> httpx.Response:
    return await client.post(
        "/admin/feed/podcast-artwork",
        data={"csrf_token": csrf},
        files={"artwork": ("cover.png", data, "image/png")},
    )


async def test_the_drawn_artwork_is_a_square_jpeg_apple_takes(client: httpx.AsyncClient) -> None:
    response = await client.get(ARTWORK)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "public, max-age=3600"
    image = opened(response.content)
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (1400, 1400))
    # Letters on the background: the middle rows hold both colours, the top ones only one.
    middle = image.crop((0, 560, 1400, 620)).convert("L").getextrema()
    top = image.crop((0, 0, 1400, 60)).convert("L").getextrema()
    assert middle[1] - middle[0] > 100 and top[1] - top[0] < 10
    again = await client.get(ARTWORK, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


async def test_an_uploaded_picture_becomes_the_artwork_until_it_is_removed(
    client: httpx.AsyncClient,
) -> None:
    drawn = await client.get(ARTWORK)
    csrf = await as_admin(client)
    saved = await upload(client, csrf, picture(1600, 1450, mode="RGBA"))
    assert saved.status_code == 303, saved.text
    uploaded = await client.get(ARTWORK, headers={"If-None-Match": drawn.headers["etag"]})
    assert uploaded.status_code == 200  # a new picture, a new ETag
    image = opened(uploaded.content)
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (1450, 1450))
    # Cut to the centre: both halves of the picture are in it, half and half.
    assert image.getpixel((100, 700))[0] < 60 and image.getpixel((1350, 700))[0] > 200
    assert await AuditEntry.filter(action="podcast.artwork").count() == 1
    page = await client.get("/admin/feed")
    assert 'action="/admin/feed/podcast-artwork/remove"' in page.text

    removed = await client.post("/admin/feed/podcast-artwork/remove", data={"csrf_token": csrf})
    assert removed.status_code == 303
    again = await client.get(ARTWORK)
    assert again.content == drawn.content
    assert await AuditEntry.filter(action="podcast.artwork").count() == 2


async def test_a_large_upload_is_made_apples_largest_size(client: httpx.AsyncClient) -> None:
    csrf = await as_admin(client)
    assert (await upload(client, csrf, picture(3200, 3100))).status_code == 303
    image = opened((await client.get(ARTWORK)).content)
    assert image.size == (3000, 3000)


async def test_a_picture_smaller_than_apple_asks_is_refused(client: httpx.AsyncClient) -> None:
    drawn = await client.get(ARTWORK)
    csrf = await as_admin(client)
    refused = await upload(client, csrf, picture(1600, 1399))
    assert refused.status_code == 422
    assert "1400" in refused.text
    not_a_picture = await upload(client, csrf, b"not a picture at all")
    assert not_a_picture.status_code == 422
    assert (await client.get(ARTWORK)).content == drawn.content
    assert await AuditEntry.filter(action="podcast.artwork").count() == 0


async def test_only_staff_who_write_the_feed_change_the_artwork(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, (await make_user(role="support")).email)
    page = await client.get("/feed/podcast")
    refused = await client.post(
        "/admin/feed/podcast-artwork",
        data={"csrf_token": csrf_from(page.text)},
        files={"artwork": ("cover.png", picture(1400, 1400), "image/png")},
    )
    assert refused.status_code == 403
