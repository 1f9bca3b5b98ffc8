"""The private podcast feed: valid RSS 2.0 (parsed by feedparser) that meets what Apple Podcasts
asks of a show, enclosures that seek, what each listener may read, reset."""

from __future__ import annotations

import io
import re
from email.utils import parsedate_to_datetime
from xml.etree import ElementTree  # nosec B405  # parses the feed our own app wrote

import feedparser
import httpx
import podcastparser
from PIL import Image

from settings import Settings
from tests.community.conftest import later, write_item
from tests.factories import csrf_from, make_member, make_user, sign_in

ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
# Apple Podcasts' categories and their subcategories, as its list spells them.
APPLE_CATEGORIES = {
    "Arts": {"Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"},
    "Business": {
        "Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit",
    },
    "Comedy": {"Comedy Interviews", "Improv", "Stand-Up"},
    "Education": {"Courses", "How To", "Language Learning", "Self-Improvement"},
    "Fiction": {"Comedy Fiction", "Drama", "Science Fiction"},
    "Government": set(),
    "History": set(),
    "Health & Fitness": {
        "Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality",
    },
    "Kids & Family": {"Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"},
    "Leisure": {
        "Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies",
        "Home & Garden", "Video Games",
    },
    "Music": {"Music Commentary", "Music History", "Music Interviews"},
    "News": {
        "Business News", "Daily News", "Entertainment News", "News Commentary", "Politics",
        "Sports News", "Tech News",
    },
    "Religion & Spirituality": {
        "Buddhism", "Christianity", "Hinduism", "Islam", "Judaism", "Religion", "Spirituality",
    },
    "Science": {
        "Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics",
        "Natural Sciences", "Nature", "Physics", "Social Sciences",
    },
    "Society & Culture": {
        "Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships",
    },
    "Sports": {
        "Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf", "Hockey",
        "Rugby", "Running", "Soccer", "Swimming", "Tennis", "Volleyball", "Wilderness",
        "Wrestling",
    },
    "Technology": set(),
    "True Crime": set(),
    "TV & Film": {"After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"},
}  # fmt: skip
# The media types Apple Podcasts takes for an episode's enclosure.
APPLE_ENCLOSURE_TYPES = {"audio/mpeg", "audio/x-m4a", "audio/mp4", "video/mp4", "video/quicktime"}


async def podcast_url(client: httpx.AsyncClient) -> str:
    page = await client.get("/feed/podcast")
    assert page.status_code == 200
    start = page.text.index("http://testserver/feed/")
    return page.text[start : page.text.index('"', start)]


async def test_a_member_gets_a_valid_private_podcast_feed(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    await write_item(
        client, admin_headers, title="第一期", keyword="一", audio=mp3, publish_at=later(days=-1)
    )
    await write_item(
        client, admin_headers, title="会员期", keyword="二", audio=mp3, members_only=True
    )
    await write_item(client, admin_headers, title="未来期", keyword="三", publish_at=later(days=1))
    member = await make_member()
    await sign_in(client, member.email)
    url = await podcast_url(client)
    client.cookies.clear()  # a podcast app has no cookie

    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rss+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert [entry.title for entry in parsed.entries] == ["会员期", "第一期"]
    assert parsed.feed.get("itunes_explicit") is not None or "itunes" in response.text
    enclosure = parsed.entries[0].enclosures[0]
    assert enclosure.type == "audio/mpeg" and int(enclosure.length) == len(mp3)
    assert parsed.entries[0].itunes_duration == "60"

    seek = await client.get(enclosure.href, headers={"Range": "bytes=100-199"})
    assert seek.status_code == 206  # members-only audio, through the token alone
    assert seek.content == mp3[100:200]


async def test_a_non_members_feed_leaves_members_only_audio_out(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    await write_item(
        client, admin_headers, title="会员期", keyword="二", audio=mp3, members_only=True
    )
    reader = await make_user()
    await sign_in(client, reader.email)
    url = await podcast_url(client)
    parsed = feedparser.parse((await client.get(url)).content)
    assert not parsed.bozo
    assert parsed.entries[0].get("enclosures") == []


async def test_resetting_the_token_retires_the_old_address(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    item = (await write_item(client, admin_headers, audio=mp3, members_only=True)).json()
    member = await make_member()
    await sign_in(client, member.email)
    old = await podcast_url(client)
    page = await client.get("/feed/podcast")
    reset = await client.post("/feed/podcast/reset", data={"csrf_token": csrf_from(page.text)})
    assert reset.status_code == 303
    new = await podcast_url(client)
    assert new != old
    client.cookies.clear()
    assert (await client.get(old)).status_code == 404
    assert (await client.get(new)).status_code == 200
    old_token = old.rsplit("/", 1)[1].removesuffix(".rss")
    audio = await client.get(item["audio_url"], params={"token": old_token})
    assert audio.status_code == 401
    assert (await client.get("/feed/1-1-" + "0" * 32 + ".rss")).status_code == 404


async def feed_of(client: httpx.AsyncClient, user_email: str) -> tuple[str, httpx.Response]:
    """The podcast address of `user_email` and its feed, fetched as a podcast app does (no
    cookie)."""
    await sign_in(client, user_email)
    url = await podcast_url(client)
    client.cookies.clear()
    response = await client.get(url)
    assert response.status_code == 200
    return url, response


async def test_the_feed_meets_what_apple_podcasts_asks_of_a_show(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes, settings: Settings
) -> None:
    await write_item(client, admin_headers, title="第一期", keyword="一", audio=mp3)
    url, response = await feed_of(client, (await make_member()).email)
    root = ElementTree.fromstring(response.content)  # nosec B314  # our own feed
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    for tag in ("title", "link", "description", "language"):
        assert (channel.findtext(tag) or "").strip(), tag
    assert channel.findtext("language") == "zh-cn"
    assert channel.findtext(f"{ITUNES}author")
    assert channel.findtext(f"{ITUNES}explicit") == "false"
    assert channel.findtext(f"{ITUNES}block") == "Yes"  # a private feed stays out of directories
    owner = channel.find(f"{ITUNES}owner")
    assert owner is not None
    assert (owner.findtext(f"{ITUNES}name"), owner.findtext(f"{ITUNES}email")) == (
        settings.podcast_owner
    )
    assert re.fullmatch(r"[^@\s]+@[^@\s]+", owner.findtext(f"{ITUNES}email") or "")
    category = channel.find(f"{ITUNES}category")
    assert category is not None and category.get("text") in APPLE_CATEGORIES
    for subcategory in category.findall(f"{ITUNES}category"):
        assert subcategory.get("text") in APPLE_CATEGORIES[category.get("text") or ""]
    (me,) = [link for link in channel.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert me.get("href") == url and me.get("type") == "application/rss+xml"

    # The artwork: JPEG or PNG, RGB, a square of 1400 to 3000 pixels.
    image = channel.find(f"{ITUNES}image")
    assert image is not None
    artwork_url = image.get("href") or ""
    assert artwork_url.startswith("http://testserver/") and artwork_url.endswith((".jpg", ".png"))
    artwork = await client.get(artwork_url)
    assert artwork.status_code == 200
    assert artwork.headers["content-type"] in ("image/jpeg", "image/png")
    with Image.open(io.BytesIO(artwork.content)) as picture:
        assert picture.format in ("JPEG", "PNG")
        assert picture.mode == "RGB"
        assert picture.width == picture.height and 1400 <= picture.width <= 3000

    # Each episode: a title, a GUID, a date, an enclosure whose length and type are the file's.
    (item,) = channel.findall("item")
    assert item.findtext("title") == "第一期"
    assert item.find("guid") is not None and item.find("guid").get("isPermaLink") == "false"  # type: ignore[union-attr]
    assert parsedate_to_datetime(item.findtext("pubDate") or "").tzinfo is not None
    assert item.findtext(f"{ITUNES}explicit") == "false"
    assert item.findtext(f"{DC}language") == "zh-cn"
    enclosure = item.find("enclosure")
    assert enclosure is not None
    assert enclosure.get("type") in APPLE_ENCLOSURE_TYPES
    audio = await client.get(enclosure.get("url") or "")
    assert audio.status_code == 200
    assert int(enclosure.get("length") or 0) == len(audio.content) == len(mp3)
    assert audio.headers["content-type"] == enclosure.get("type")
    assert item.findtext(f"{ITUNES}duration") == "60"


async def test_feedparser_reads_the_shows_artwork_owner_category_and_languages(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes, settings: Settings
) -> None:
    await write_item(client, admin_headers, title="第一期", keyword="一", audio=mp3)
    url, response = await feed_of(client, (await make_member()).email)
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert "http://www.w3.org/2005/Atom" in parsed.namespaces.values()
    assert parsed.feed.image.href == "http://testserver/feed/podcast/artwork.jpg"
    assert parsed.feed.publisher_detail == {
        "name": settings.podcast_owner[0],
        "email": settings.podcast_owner[1],
    }
    assert [tag.term for tag in parsed.feed.tags] == ["Education", "Self-Improvement"]
    # feedparser reads Apple's "true"/"false" as None (it knows "yes" and "clean"): the
    # value itself is checked above with Apple's requirements.
    assert parsed.feed.language == "zh-cn"
    assert {"rel": "self", "type": "application/rss+xml", "href": url} in parsed.feed.links
    (entry,) = parsed.entries
    assert entry.language == "zh-cn"


async def test_podcastparser_reads_the_show_and_its_episodes(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes, settings: Settings
) -> None:
    """gPodder's parser, as podcast apps read a feed: the cover, the owner's category, each
    episode's enclosure, duration and GUID."""
    await write_item(client, admin_headers, title="第一期", keyword="一", audio=mp3)
    url, response = await feed_of(client, (await make_member()).email)
    show = podcastparser.parse(url, io.BytesIO(response.content))
    assert show["title"] and show["cover_url"] == "http://testserver/feed/podcast/artwork.jpg"
    assert show["itunes_owner"] == {
        "name": settings.podcast_owner[0],
        "email": settings.podcast_owner[1],
    }
    assert show["itunes_categories"] == [["Education", "Self-Improvement"]]
    assert show["explicit"] is False
    (episode,) = show["episodes"]
    assert episode["title"] == "第一期" and episode["total_time"] == 60
    assert episode["guid"].startswith("shuyuan-feed-")
    (enclosure,) = episode["enclosures"]
    assert enclosure["file_size"] == len(mp3) and enclosure["mime_type"] == "audio/mpeg"
    assert episode["description"]


async def test_the_feeds_addresses_come_from_the_public_url_not_the_host(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    await write_item(client, admin_headers, audio=mp3)
    await sign_in(client, (await make_member()).email)
    url = await podcast_url(client)
    client.cookies.clear()
    path = url.removeprefix("http://testserver")
    response = await client.get(path, headers={"Host": "localhost"})
    assert response.status_code == 200
    assert "localhost" not in response.text
    assert f'<atom:link href="{url}" rel="self"' in response.text


def summaries(response: httpx.Response) -> dict[str, tuple[str, str]]:
    """Each item's (description, itunes:summary) by title."""
    root = ElementTree.fromstring(response.content)  # nosec B314  # our own feed
    return {
        item.findtext("title") or "": (
            item.findtext("description") or "",
            item.findtext(f"{ITUNES}summary") or "",
        )
        for item in root.iter("item")
    }


async def test_summaries_are_all_the_listener_may_read(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    long_body = "开放的长文。" * 60 + "最后一句在这里。"
    await write_item(
        client, admin_headers, title="开放期", keyword="开", body=long_body, audio=mp3,
        publish_at=later(days=-1),
    )  # fmt: skip
    secret = "会员才读得到的结尾。"
    await write_item(
        client, admin_headers, title="会员期", keyword="会", members_only=True, audio=mp3,
        body="开头给大家看。" * 10 + secret, teaser="给非会员的预告。",
    )  # fmt: skip

    _, reader_feed = await feed_of(client, (await make_user()).email)
    shown = summaries(reader_feed)
    assert shown["开放期"] == (f"<p>{long_body}</p>\n", long_body)  # all of it, not a cut
    description, summary = shown["会员期"]
    assert description.startswith("<p>给非会员的预告。</p>")  # the public teaser, and the note
    assert "这条内容仅限会员。" in description and "/membership" in description
    assert summary == "给非会员的预告。 🔒 这条内容仅限会员。"
    assert "开头给大家看" not in reader_feed.text and secret not in reader_feed.text
    assert feedparser.parse(reader_feed.content).entries[0].get("enclosures") == []

    client.cookies.clear()
    _, member_feed = await feed_of(client, (await make_member()).email)
    description, summary = summaries(member_feed)["会员期"]
    assert description == f"<p>{'开头给大家看。' * 10}{secret}</p>\n"  # as its page shows it
    assert summary == "开头给大家看。" * 10 + secret
    assert feedparser.parse(member_feed.content).entries[0].enclosures[0].type == "audio/mpeg"


async def test_markup_in_titles_and_bodies_stays_text_in_the_feed(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    title = '<b>粗&"体"</b>]]>'
    body = "]]><script>alert(1)</script> & <img src=x onerror=alert(2)> **真的粗体**"
    item = await write_item(client, admin_headers, title=title, keyword="标记", body=body)
    assert item.status_code == 201, item.text
    _, response = await feed_of(client, (await make_member()).email)
    root = ElementTree.fromstring(response.content)  # nosec B314  # our own feed
    assert [element.tag for element in root.iter() if element.tag in ("script", "img", "b")] == []
    (entry,) = root.iter("item")
    assert entry.findtext("title") == title
    description = entry.findtext("description") or ""
    assert "<script" not in description and "<img" not in description  # sanitised HTML
    assert "<strong>真的粗体</strong>" in description
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo and parsed.entries[0].title == title


async def test_guids_stay_when_the_token_is_reset(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    await write_item(client, admin_headers, title="第一期", keyword="一", audio=mp3)
    member = await make_member()
    old_url, old = await feed_of(client, member.email)
    await sign_in(client, member.email)
    page = await client.get("/feed/podcast")
    await client.post("/feed/podcast/reset", data={"csrf_token": csrf_from(page.text)})
    new_url, new = await feed_of(client, member.email)
    assert new_url != old_url
    before, after = feedparser.parse(old.content).entries, feedparser.parse(new.content).entries
    assert [entry.id for entry in before] == [entry.id for entry in after]
    assert before[0].guidislink is False
    assert before[0].enclosures[0].href != after[0].enclosures[0].href  # each with its token
