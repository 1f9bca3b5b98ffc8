"""Benchmark: the watched words' matcher with 10,000 words on a 5,000-character post.

What one board post costs moderation.words.screen beyond the database: folding the text
(NFKC, case, Traditional -> Simplified, filler and repeats away: moderation.folding) and one
pass of the Aho-Corasick automaton (pyahocorasick) over it. The words are made of common
characters (2 to 4 of 3,500, a fixed seed); the post is Traditional and Simplified text with
full-width letters, filler inside words and repeated characters, and carries some of the
words. Reports the automaton's build (what a worker pays when the lists change), the fold
alone, and fold plus match, each the median of --runs runs, and the matches found.

    python -m bench.watched_words [--words 10000] [--chars 5000] [--runs 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from bench.common import summary
from moderation.folding import fold
from moderation.matcher import Matcher
from moderation.models import WordAction

# 3,500 characters of the CJK block's first part, roughly the size of the list of common
# characters (现代汉语常用字表); some Traditional ones fall in it.
COMMON = "".join(chr(code) for code in range(0x4E00, 0x4E00 + 3_500))
FILLER = "@#·。，、 ～*"
ACTIONS = list(WordAction)


def words(count: int, seed: int) -> list[tuple[str, WordAction]]:
    pick = random.Random(seed)
    made: dict[str, WordAction] = {}
    while len(made) < count:
        word = "".join(pick.choice(COMMON) for _ in range(pick.randint(2, 4)))
        made.setdefault(word, pick.choice(ACTIONS))
    return list(made.items())


def post(chars: int, watched: list[tuple[str, WordAction]], seed: int) -> str:
    """A long post: ordinary text, with some watched words written the ways people hide
    them (filler inside, a character repeated, full-width Latin letters around)."""
    pick = random.Random(seed + 1)
    parts: list[str] = []
    length = 0
    while length < chars:
        roll = pick.random()
        if roll < 0.02:
            word = pick.choice(watched)[0]
            piece = pick.choice(FILLER).join(word) if pick.random() < 0.5 else word[0] + word
        elif roll < 0.05:
            piece = "ＡＢＣ ok "
        else:
            piece = "".join(pick.choice(COMMON) for _ in range(pick.randint(3, 12))) + "，"
        parts.append(piece)
        length += len(piece)
    return "".join(parts)[:chars]


def median_ms(action: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--words", type=int, default=10_000)
    parser.add_argument("--chars", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    watched = words(args.words, seed=38)
    text = post(args.chars, watched, seed=38)
    fold("預熱")  # OpenCC's table and the folding caches, built once per process
    build = median_ms(lambda: Matcher(watched), max(3, args.runs // 20))
    matcher = Matcher(watched)
    fold_only = median_ms(lambda: fold(text), args.runs)
    both = median_ms(lambda: matcher.find(text), args.runs)
    found = matcher.find(text)
    print(
        f"watched words: {matcher.size} words (folded), a post of {len(text)} characters, "
        f"median of {args.runs} runs"
    )
    print(f"  build the automaton:   {build:8.2f} ms (when the lists change)")
    print(f"  fold the post:         {fold_only:8.2f} ms")
    print(f"  fold and match:        {both:8.2f} ms ({len(found)} matches)")
    print(f"  posts/s on one core:   {1000 / both:8.0f}")
    summary(
        "watched words (10,000 words, 5,000-char post)",
        {
            "fold + match, median": f"{both:.2f} ms",
            "fold alone": f"{fold_only:.2f} ms",
            "automaton build": f"{build:.1f} ms",
        },
    )


if __name__ == "__main__":
    main()
