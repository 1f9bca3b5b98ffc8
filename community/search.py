"""Chinese-aware full-text search, the same on SQLite and PostgreSQL.

Chinese has no spaces between words, so neither database's default tokenizer finds "经济" in
"行为经济学". Documents are cut into words by jieba (search mode, which also yields the shorter
words inside long ones) and stored as an inverted index (community_search_term, indexed by
(kind, term)); a query is cut the same way and a document matches when it holds every word.
Words are folded as keywords are (community.text.folded: NFKC, case, Traditional ->
Simplified). `search` is the one function callers use; the feed uses kind "feed" and the board
"post".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import cast

import jieba
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from community.models import SearchTerm
from community.text import folded

jieba.setLogLevel(logging.WARNING)
MAX_TERM = 64
_WORDLIKE = re.compile(r"\w", re.UNICODE)


def _normal(text: str) -> str:
    return folded(text)


def document_terms(text: str) -> set[str]:
    """The distinct words of a document, in search mode (long words and the words inside)."""
    return {
        word
        for word in (w.strip() for w in jieba.cut_for_search(_normal(text)))
        if word and _WORDLIKE.search(word) and len(word) <= MAX_TERM
    }


def query_terms(query: str) -> list[str]:
    """The words of a query, in precise mode, each once, in order."""
    seen: dict[str, None] = {}
    for word in jieba.cut(_normal(query)):
        word = word.strip()
        if word and _WORDLIKE.search(word) and len(word) <= MAX_TERM:
            seen.setdefault(word, None)
    return list(seen)


async def index_document(kind: str, ref_id: int, text: str) -> None:
    """(Re)index one document; call it whenever the document's text changes."""
    terms = document_terms(text)
    async with in_transaction():
        await SearchTerm.filter(kind=kind, ref_id=ref_id).delete()
        await SearchTerm.bulk_create(
            [SearchTerm(kind=kind, ref_id=ref_id, term=term) for term in sorted(terms)]
        )


async def remove_document(kind: str, ref_id: int) -> None:
    await SearchTerm.filter(kind=kind, ref_id=ref_id).delete()


async def search(kind: str, query: str, *, limit: int = 200) -> Sequence[int]:
    """Ids of the documents of `kind` that hold every word of `query` (unordered; callers order
    and filter what may be shown). An empty or wordless query finds nothing."""
    terms = query_terms(query)[:10]
    if not terms:
        return []
    rows = (
        await SearchTerm.filter(kind=kind, term__in=terms)
        .annotate(hits=Count("term", distinct=True))
        .group_by("ref_id")
        .filter(hits=len(terms))
        .limit(limit)
        .values_list("ref_id", flat=True)
    )
    return [int(cast(int, ref_id)) for ref_id in rows]
