"""Feed audio: uploads checked (size, type, readable, duration by mutagen) and stored by hash.

Files are the storage's "audio/<name>" objects (storage.py; <var>/audio/ on local disk), not
under the public /media folder: audio is served only through community.routes, which checks who
asks, then answers Range requests itself or hands the file to nginx (X-Accel-Redirect).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import mutagen
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis

from errors import ValidationError
from storage import STORAGE

MAX_AUDIO_BYTES = 50 * 1024 * 1024
MAX_AUDIO_SECONDS = 60 * 60
# mutagen's class -> (file extension, MIME type)
KINDS: dict[type, tuple[str, str]] = {
    MP3: ("mp3", "audio/mpeg"),
    MP4: ("m4a", "audio/mp4"),
    OggVorbis: ("ogg", "audio/ogg"),
    OggOpus: ("ogg", "audio/ogg"),
}


@dataclass(frozen=True)
class CheckedAudio:
    data: bytes
    extension: str
    content_type: str
    seconds: float
    sha256: str


def check_audio(data: bytes) -> CheckedAudio:
    """The upload if it is an mp3, m4a or ogg file we can read; ValidationError("audio") else."""
    if not data:
        raise ValidationError("audio", "choose an audio file to upload")
    if len(data) > MAX_AUDIO_BYTES:
        raise ValidationError("audio", "must be at most 50 MB")
    try:
        parsed = mutagen.File(io.BytesIO(data), options=list(KINDS))
    except Exception:  # mutagen raises many kinds of errors for damaged files
        parsed = None
    if parsed is None or type(parsed) not in KINDS or parsed.info is None:
        raise ValidationError("audio", "must be an MP3, M4A or Ogg audio file")
    seconds = float(getattr(parsed.info, "length", 0) or 0)
    if seconds <= 0:
        raise ValidationError("audio", "has no playable sound")
    held = _seconds_held(type(parsed), data)
    if held is not None and seconds > held * 1.05 + 0.5:
        # Its header promises more than its frames hold: a cut upload, which would stop early
        # in every player while the feed shows the full length.
        raise ValidationError(
            "audio", f"is cut short: it says {seconds:.0f} s but holds {held:.0f} s of sound"
        )
    if seconds > MAX_AUDIO_SECONDS:
        raise ValidationError("audio", "must be at most an hour long")
    extension, content_type = KINDS[type(parsed)]
    return CheckedAudio(
        data=data,
        extension=extension,
        content_type=content_type,
        seconds=round(seconds, 2),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _seconds_held(kind: type, data: bytes) -> float | None:
    """How much sound the file's own frames hold, where that can be told apart from what its
    header declares (None where the two are one and the same)."""
    if kind is MP3:
        return _mp3_frames_seconds(data)
    if kind is MP4:
        return None if _mp4_boxes_whole(data) else 0.0
    return None  # Ogg: mutagen reads the length from the last page that is really there


# MPEG audio frame headers: kbit/s by (version is MPEG-1, layer) and index; sample rates.
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frames_seconds(data: bytes) -> float:
    """Seconds of sound in the MPEG frames that are really in `data`, walked frame by frame
    from the first one (after an ID3v2 tag)."""
    position = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = 0
        for byte in data[6:10]:
            size = (size << 7) | (byte & 0x7F)
        position = 10 + size
    seconds = 0.0
    while position + 4 <= len(data):
        header = int.from_bytes(data[position : position + 4], "big")
        version, layer_bits = (header >> 19) & 3, (header >> 17) & 3
        bitrate_index, rate_index = (header >> 12) & 15, (header >> 10) & 3
        if (
            header >> 21 != 0x7FF
            or version == 1
            or layer_bits == 0
            or bitrate_index in (0, 15)
            or rate_index == 3
        ):
            if seconds:
                break  # past the last frame (a trailing tag, or the cut)
            position += 1  # still looking for the first frame
            continue
        mpeg1, layer = version == 3, 4 - layer_bits
        bitrate = _BITRATES[(mpeg1, layer)][bitrate_index] * 1000
        rate = _SAMPLE_RATES[version][rate_index]
        padding = (header >> 9) & 1
        if layer == 1:
            length, samples = (12 * bitrate // rate + padding) * 4, 384
        else:
            per_frame = 144 if layer == 2 or mpeg1 else 72
            length, samples = (
                per_frame * bitrate // rate + padding,
                1152 if per_frame == 144 else 576,
            )
        if position + length > len(data):
            break  # a frame cut in the middle holds no sound a player plays
        seconds += samples / rate
        position += length
    return seconds


def _mp4_boxes_whole(data: bytes) -> bool:
    """Whether the file's top-level boxes add up to exactly its size (a cut file's last box,
    its sound data, says it is longer than what is left)."""
    position = 0
    while position < len(data):
        if position + 8 > len(data):
            return False
        size = int.from_bytes(data[position : position + 4], "big")
        if size == 1:
            if position + 16 > len(data):
                return False
            size = int.from_bytes(data[position + 8 : position + 16], "big")
        elif size == 0:
            return True  # the last box runs to the end of the file
        if size < 8 or position + size > len(data):
            return False
        position += size
    return True


def audio_key(name: str) -> str:
    """The storage key of the audio file named `name` (FeedItem.audio_file)."""
    return f"audio/{name}"


async def store_audio(item_id: int, audio: CheckedAudio) -> str:
    """Store the file; its name carries the item and a hash, so its URL never changes meaning
    and can be cached for good."""
    name = f"{item_id}-{audio.sha256[:16]}.{audio.extension}"
    await STORAGE.get().put(audio_key(name), audio.data, audio.content_type)
    return name


async def delete_audio(name: str) -> None:
    """Delete a replaced or removed audio file (its URL stops working)."""
    await STORAGE.get().delete(audio_key(name))


def silent_mp3(seconds: float) -> bytes:
    """A valid MP3 of silence (MPEG-1 Layer III, 128 kbit/s, 44.1 kHz frames of zeros), for
    demo data and tests: every player and mutagen read it."""
    header = bytes([0xFF, 0xFB, 0x90, 0x64])
    frame = header + bytes(417 - len(header))
    frames = max(1, round(seconds * 44100 / 1152))
    return frame * frames
