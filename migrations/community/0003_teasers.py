from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# Members-only items get a teaser written for non-members, and the search gets a public index
# (kind "feed_public": title, keyword and teaser of a members-only item, all of an open one),
# the only one non-members search. Existing items are indexed into it here.


async def index_public_text(apps, state_editor) -> None:
    from community.search import document_terms
    from community.text import plain_text, teaser_of

    client = state_editor.client
    postgres = client.capabilities.dialect == "postgres"
    _, items = await client.execute_query(
        "SELECT id, title, keyword, body_html, members_only, teaser FROM community_feed_item"
    )
    await client.execute_script("DELETE FROM community_search_term WHERE kind = 'feed_public'")
    for item in items:
        public = (
            teaser_of(item["body_html"], item["teaser"])
            if item["members_only"]
            else plain_text(item["body_html"])
        )
        terms = sorted(document_terms(f"{item['title']}\n{item['keyword']}\n{public}"))
        for term in terms:
            placeholders = "$1, $2, $3" if postgres else "?, ?, ?"
            await client.execute_query(
                f"INSERT INTO community_search_term (kind, ref_id, term) VALUES ({placeholders})",
                ["feed_public", item["id"], term],
            )


async def drop_public_index(apps, state_editor) -> None:
    await state_editor.client.execute_script(
        "DELETE FROM community_search_term WHERE kind = 'feed_public'"
    )


class Migration(migrations.Migration):
    dependencies = [('accounts', '0003_server_sessions'), ('community', '0002_auto_20261125_1111')]

    initial = False

    operations = [
        ops.AddField(
            model_name='FeedItem',
            name='teaser',
            field=fields.CharField(default='', max_length=300),
        ),
        ops.RunPython(index_public_text, reverse_code=drop_public_index),
    ]
