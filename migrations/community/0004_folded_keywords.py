import logging

from tortoise import migrations
from tortoise.migrations import operations as ops

# Keywords and search now ignore inner spaces and read Traditional characters as Simplified
# (community.text.folded). Every item's keyword key is computed again. Live items whose keys
# now read as one are reported (log and standard output) for an admin to settle: the oldest
# keeps the keyword, the others keep their earlier key (still found as typed before). The
# search index is emptied here and built again with the new folding by `shuyuan migrate`.
log = logging.getLogger("shuyuan.migrations")


async def fold_keywords(apps, state_editor) -> None:
    from community.text import normalise_keyword
    from db import for_dialect

    client = state_editor.client
    dialect = client.capabilities.dialect
    _, rows = await client.execute_query(
        'SELECT id, keyword, keyword_key, live_keyword FROM "community_feed_item" ORDER BY id'
    )
    taken: dict[str, int] = {}
    for row in rows:
        key = normalise_keyword(row["keyword"])[:40]
        live = row["live_keyword"]
        if live is not None:
            if key in taken and taken[key] != row["id"]:
                line = (
                    f"feed item #{row['id']} keyword {row['keyword']!r} now reads as item "
                    f"#{taken[key]}'s; it keeps its earlier key {live!r} until an admin changes it"
                )
                log.warning(line)
                print(line)
                key_live = live
            else:
                taken[key] = row["id"]
                key_live = key
        else:
            key_live = None
        await client.execute_query(
            for_dialect(
                'UPDATE "community_feed_item" SET keyword_key = $1, live_keyword = $2 WHERE id = $3',
                dialect,
            ),
            [key, key_live, row["id"]],
        )


async def empty_the_search_index(apps, state_editor) -> None:
    # Built again by `shuyuan migrate` once the migrations ran (cli.rebuild_search_index):
    # the index is made by the application's own code, which a migration cannot run.
    await state_editor.client.execute_script('DELETE FROM "community_search_term"')


async def nothing(apps, state_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [("community", "0003_teasers")]

    initial = False

    operations = [
        ops.RunPython(fold_keywords, reverse_code=nothing),
        ops.RunPython(empty_the_search_index, reverse_code=nothing),
    ]
