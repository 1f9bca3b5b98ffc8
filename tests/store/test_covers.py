"""Drawn covers: a product without a picture shows its title in the shipped font, never a
missing-glyph box; the cover is served by name with an ETag, and the pages link it."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import httpx
from fontTools.ttLib import TTFont
from PIL import Image, ImageFont

from ratelimit import MemoryCounter
from store import covers
from store import services as store
from store.covers_font import gb2312_characters, level_one_characters
from store.models import Product
from tests.factories import address, make_user, sign_in

RARE = "啰"  # first level of the 通用规范汉字表 (啰嗦), not in GB 2312


def font_cmap() -> set[int]:
    with TTFont(covers.FONT_FILE, lazy=True) as font:
        return set(font.getBestCmap())


async def make_product(title: str, category: str = "图书") -> Product:
    return await store.create_product(
        title=title, description="", category=category, price_fen=4_900, stock=3
    )


def test_a_title_with_a_character_beyond_gb2312_is_drawn_whole() -> None:
    assert RARE in level_one_characters()
    assert RARE not in gb2312_characters()
    title = f"{RARE}嗦的哲学：Notes ¥49"
    shown = covers.cover_of(title, "图书", "large")
    assert shown.text == title
    cmap = font_cmap()
    assert {ord(character) for character in title} <= cmap
    font = ImageFont.truetype(str(covers.FONT_FILE), 64)
    for character in title.replace(" ", ""):
        assert font.getmask(character).getbbox() is not None, character


def test_characters_outside_the_font_are_left_out() -> None:
    cmap = font_cmap()
    assert not {ord("𠮷"), ord("🎁")} & cmap
    shown = covers.cover_of("𠮷野家 🎁 新年便当", "食品", "thumb")
    assert shown.text == "野家 新年便当"
    # Drawn exactly as the title without them: no box, no hole.
    assert covers.render(shown) == covers.render(covers.cover_of("野家 新年便当", "", "thumb"))


def test_a_title_with_nothing_to_draw_shows_its_category_then_the_sites_name() -> None:
    assert covers.cover_of("🎁🎁", "礼品", "thumb").text == "礼品"
    assert covers.cover_of("🎁🎁", "🎁", "thumb").text == "书院"


def test_a_long_title_is_cut_with_an_ellipsis_on_its_fourth_line() -> None:
    _, lines = covers.fit("书" * 120, covers.SIZES["large"])
    assert len(lines) == 4
    assert lines[-1].endswith("…")


async def test_the_cover_route_answers_png_squares_of_the_picture_sizes(
    client: httpx.AsyncClient,
) -> None:
    product = await make_product(f"{RARE}嗦的哲学")
    for size, width in covers.SIZES.items():
        response = await client.get(f"/store/products/{product.id}/cover-{size}.png")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        assert response.headers["cache-control"] == "public, max-age=3600"
        with Image.open(io.BytesIO(response.content)) as picture:
            assert picture.format == "PNG"
            assert picture.size == (width, width)


async def test_a_matching_etag_answers_304(client: httpx.AsyncClient) -> None:
    product = await make_product("书院笔记本")
    path = f"/store/products/{product.id}/cover-thumb.png"
    etag = (await client.get(path)).headers["etag"]
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


async def test_a_new_title_gives_a_new_etag(client: httpx.AsyncClient) -> None:
    product = await make_product("书院笔记本")
    path = f"/store/products/{product.id}/cover-thumb.png"
    etag = (await client.get(path)).headers["etag"]
    product.title = "书院笔记本（第二版）"
    await product.save()
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert again.headers["etag"] != etag


async def test_an_unknown_size_is_not_found(client: httpx.AsyncClient) -> None:
    product = await make_product("书院笔记本")
    response = await client.get(f"/store/products/{product.id}/cover-huge.png")
    assert response.status_code == 404


async def test_the_listing_shows_the_cover_of_a_product_without_a_picture(
    client: httpx.AsyncClient,
) -> None:
    product = await make_product("没有图片的书")
    page = await client.get("/store")
    assert f'src="/store/products/{product.id}/cover-thumb.png"' in page.text


async def test_the_product_page_shows_the_large_cover(client: httpx.AsyncClient) -> None:
    product = await make_product("没有图片的书")
    page = await client.get(f"/store/products/{product.id}")
    assert f'src="/store/products/{product.id}/cover-large.png"' in page.text


async def test_the_api_answers_a_products_cover_urls(client: httpx.AsyncClient) -> None:
    product = await make_product("没有图片的书")
    body = (await client.get(f"/api/v1/products/{product.id}")).json()
    assert body["image_url"] is None
    assert body["cover_url"] == f"/store/products/{product.id}/cover-large.png"
    assert body["cover_thumbnail_url"] == f"/store/products/{product.id}/cover-thumb.png"


async def test_the_orders_page_shows_the_cover_of_a_product_without_a_picture(
    client: httpx.AsyncClient,
) -> None:
    product = await make_product("没有图片的书")
    buyer = await make_user()
    await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )
    assert (await sign_in(client, buyer.email)).status_code == 303
    page = await client.get("/store/orders")
    assert f'src="/store/products/{product.id}/cover-thumb.png"' in page.text
