"""Background work of the keyword box: the rules' hits and the missed words counted in the
worker's memory reach the database every few seconds (jobs.worker.write_counts), so a lookup
writes nothing on the request path."""

from __future__ import annotations

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from keywords import misses
from keywords.memory import KeywordMemory
from keywords.models import AutoReply


async def flush_hits(memory: KeywordMemory) -> int:
    """Add the hits counted in `memory` to their rules, each rule once (in id order, so two
    workers flushing at once never deadlock); returns how many. On failure they stay for the
    next flush. A rule deleted since just takes no hits."""
    if not memory.hits:
        return 0
    batch = dict(memory.hits)
    memory.hits.clear()
    try:
        async with in_transaction():
            for rule_id, n in sorted(batch.items()):
                await AutoReply.filter(id=rule_id).update(hits=F("hits") + n)
    except Exception:
        memory.hits.update(batch)  # not lost: written by the next flush
        raise
    return sum(batch.values())


async def flush_counts(memory: KeywordMemory) -> int:
    """Write the hits and the misses counted in `memory`; returns how many lookups."""
    return await flush_hits(memory) + await misses.flush(memory)
