"""Product pictures: uploads are checked, resized and served; other files are refused."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import httpx
from PIL import Image

from app import create_app
from settings import Settings
from store import services as store
from tests.factories import bearer, make_user, token_for


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (180, 69, 31)).save(out, "PNG")
    return out.getvalue()


async def test_an_uploaded_picture_is_resized_and_served(client: httpx.AsyncClient) -> None:
    product = await store.create_product(
        title="书签", description="", category="逼格工场", price_fen=9_900, stock=1
    )
    admin = bearer(await token_for(await make_user(admin=True)))
    response = await client.post(
        f"/api/v1/admin/products/{product.id}/image",
        files={"image": ("bookmark.png", png(2400, 1200), "image/png")},
        headers=admin,
    )
    assert response.status_code == 200
    body = response.json()
    large = await client.get(body["image_url"])
    assert large.status_code == 200
    with Image.open(io.BytesIO(large.content)) as picture:
        assert picture.format == "JPEG"
        assert picture.size == (1200, 600)
    thumb = await client.get(body["thumbnail_url"])
    with Image.open(io.BytesIO(thumb.content)) as picture:
        assert picture.size == (400, 200)
    page = await client.get(f"/store/products/{product.id}")
    assert body["image_url"] in page.text


async def test_a_file_that_is_not_a_picture_is_422(client: httpx.AsyncClient) -> None:
    product = await store.create_product(
        title="书签", description="", category="逼格工场", price_fen=9_900, stock=1
    )
    admin = bearer(await token_for(await make_user(admin=True)))
    response = await client.post(
        f"/api/v1/admin/products/{product.id}/image",
        files={"image": ("notes.png", b"not really a png", "image/png")},
        headers=admin,
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "image"
    missing = await client.post(
        f"/api/v1/admin/products/{product.id}/image", files={"other": ("x", b"x")}, headers=admin
    )
    assert missing.status_code == 422
    refused = await client.post(
        f"/api/v1/admin/products/{product.id}/image",
        files={"image": ("b.png", png(10, 10), "image/png")},
        headers=bearer(await token_for(await make_user())),
    )
    assert refused.status_code == 403


async def test_a_missing_picture_is_a_404_even_before_any_upload(
    settings: Settings, tmp_path: Path
) -> None:
    fresh = create_app(replace(settings, var_dir=tmp_path), manage_database=False)
    transport = httpx.ASGITransport(app=fresh)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/media/products/product-404-large.jpg")
    await fresh.state.counter.aclose()
    await fresh.state.payments_provider.aclose()
    assert response.status_code == 404
