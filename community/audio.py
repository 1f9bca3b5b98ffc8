"""Feed audio: uploads checked (size, type, readable, duration by mutagen) and stored by hash.

Files live under <var>/audio/, not under the public /media mount: members-only audio is served
only through community.routes, which checks who asks and answers Range requests.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import mutagen
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis

from errors import ValidationError

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


def store_audio(audio_dir: Path, item_id: int, audio: CheckedAudio) -> str:
    """Write the file; its name carries the item and a hash, so its URL never changes meaning
    and can be cached for good."""
    audio_dir.mkdir(parents=True, exist_ok=True)
    name = f"{item_id}-{audio.sha256[:16]}.{audio.extension}"
    (audio_dir / name).write_bytes(audio.data)
    return name


def silent_mp3(seconds: float) -> bytes:
    """A valid MP3 of silence (MPEG-1 Layer III, 128 kbit/s, 44.1 kHz frames of zeros), for
    demo data and tests: every player and mutagen read it."""
    header = bytes([0xFF, 0xFB, 0x90, 0x64])
    frame = header + bytes(417 - len(header))
    frames = max(1, round(seconds * 44100 / 1152))
    return frame * frames
