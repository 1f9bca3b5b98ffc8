"""The community's shared table: the search index both rooms (feed and board) write to.

The models of the community app are here and in community/feed/models.py and
community/board/models.py (db.py lists all three)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class SearchTerm(Model):
    """An inverted index: one row per (document, word), words cut by jieba. Works the same on
    SQLite and PostgreSQL, and community.search is the only code that reads or writes it."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=16)  # "feed", later "post"
    ref_id = fields.IntField()
    term = fields.CharField(max_length=64)

    class Meta:
        table = "community_search_term"
        indexes = (("kind", "term"), ("kind", "ref_id"))
