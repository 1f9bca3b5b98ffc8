"""The demo's morning voices: each item a short tune of its own, and of its own length, written
as MP3 frame by frame (no encoder ships with the app, and the feed takes MP3, M4A and Ogg).

A frame is MPEG-1 Layer III, mono, 48 kHz at 32 kbit/s (96 bytes, 24 ms, no padding). Each of
its two granules holds one spectral line and nothing else: line 2h-1 held steady sounds as a
pure tone of h x 83.3 Hz (48000 / 576). Harmonics 2 to 6 are E3, B3, E4, G#4 and B4, the notes
of an E major chord, so any order of them is a tune.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache

SAMPLE_RATE = 48_000
GRANULE = 576  # samples; two to a frame
FRAME_BYTES = 96
# Sync, MPEG-1, Layer III, no CRC; 32 kbit/s, 48 kHz, no padding; mono, not copyrighted, original.
HEADER = bytes([0xFF, 0xFB, 0x14, 0xC4])
SIDE_INFO_BYTES = 17  # mono
HARMONICS = (2, 3, 4, 5, 6)
NOTE_GRANULES = 40  # about half a second a note
LOUDNESS = 200  # global gain: a tone at about 18% of full scale
FADE = (12, 8, 4)  # gain taken off the first and last granules of a note: no click between


class _Bits:
    def __init__(self) -> None:
        self.value = 0
        self.count = 0

    def put(self, value: int, width: int) -> None:
        self.value = (self.value << width) | (value & ((1 << width) - 1))
        self.count += width

    def padded(self, size: int) -> bytes:
        return (self.value << (size * 8 - self.count)).to_bytes(size, "big")


def _spectrum(line: int) -> tuple[int, int, int]:
    """One granule's Huffman-coded spectrum holding +1 at `line` (ISO 11172-3 table 1: (0,0) is
    "1", (1,0) "01", (0,1) "001", each 1 followed by its sign bit): (bits, their count, the
    number of value pairs coded)."""
    bits = _Bits()
    for _ in range(line // 2):
        bits.put(0b1, 1)
    if line % 2 == 0:
        bits.put(0b01, 2)
    else:
        bits.put(0b001, 3)
    bits.put(0, 1)  # positive
    return bits.value, bits.count, line // 2 + 1


@cache
def _frame(first: tuple[int, int], second: tuple[int, int]) -> bytes:
    """A frame of two granules, each (line, gain); a tune reuses a handful of them."""
    side, main = _Bits(), _Bits()
    side.put(0, 9)  # main_data_begin: no bit reservoir, the frame's data is its own
    side.put(0, 5)  # private bits
    side.put(0, 4)  # scfsi
    for line, gain in (first, second):
        value, count, pairs = _spectrum(line)
        side.put(count, 12)  # part2_3_length (no scalefactors: scalefac_compress 0)
        side.put(pairs, 9)  # big_values
        side.put(gain, 8)
        side.put(0, 4)  # scalefac_compress
        side.put(0, 1)  # long blocks
        for _ in range(3):
            side.put(1, 5)  # every region coded with table 1
        side.put(0, 4 + 3 + 1 + 1 + 1)  # region counts, preflag, scalefac_scale, count1 table
        main.put(value, count)
    return (
        HEADER
        + side.padded(SIDE_INFO_BYTES)
        + main.padded(FRAME_BYTES - len(HEADER) - SIDE_INFO_BYTES)
    )


def tune_mp3(notes: Sequence[int], seconds: float) -> bytes:
    """An MP3 of `seconds` playing `notes` (harmonics of 83.3 Hz, from HARMONICS) about half a
    second each, over and over."""
    granules = []
    for number in range(max(2, round(seconds * SAMPLE_RATE / GRANULE / 2) * 2)):
        note, step = divmod(number, NOTE_GRANULES)
        edge = min(step, NOTE_GRANULES - 1 - step)
        gain = LOUDNESS - (FADE[edge] if edge < len(FADE) else 0)
        granules.append((2 * notes[note % len(notes)] - 1, gain))
    return b"".join(_frame(granules[n], granules[n + 1]) for n in range(0, len(granules), 2))


def morning_voice(number: int) -> bytes:
    """The demo's voice number `number`: a tune of four notes of its own, 40 to 80 seconds
    long; voices 0 to 40 are each of a length no other has, so no two are the same file."""
    draw = random.Random(number)  # nosec B311  # a demo's tune, not a secret
    notes = [draw.choice(HARMONICS) for _ in range(4)]
    return tune_mp3(notes, 40 + number % 41)
