"""What the API accepts as a file name or a path inside a session, checked before any disk access.

A name that reaches the disk is one path component the host chose to allow: no separators,
no ``.`` or ``..``, no leading dot, no NUL or other control characters, no lone surrogates or undecodable bytes,
at most 255 bytes of UTF-8. A path (of an artifact in a subfolder) is such names joined by
``/``. Anything else is refused with a message saying why; it is never "cleaned up" into
something else, so what a client asked for is exactly what it gets or an error.
"""

from __future__ import annotations

import unicodedata

from weaver.errors import WeaverError

MAX_NAME_BYTES = 255
MAX_PATH_PARTS = 16
REPLACEMENT = "\ufffd"


class InvalidName(WeaverError):
    """A file name or path the service refuses (traversal, separators, control characters...)."""


def check_name(name: str) -> str:
    """``name`` itself when it is an acceptable file name, else :class:`InvalidName`."""
    if not name:
        raise InvalidName("the file name is empty")
    if name in (".", "..") or name.startswith("."):
        raise InvalidName(f"{name!r}: a file name may not start with '.'")
    if "/" in name or "\\" in name:
        raise InvalidName(f"{name!r}: a file name may not contain '/' or '\\'")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        raise InvalidName(f"{name!r}: a file name may not contain control characters, NUL or lone surrogates")
    if REPLACEMENT in name:
        # What a server decoding bytes that are not UTF-8 puts in their place: the name asked
        # for was not text, and storing the replacement would store another name.
        raise InvalidName(f"{name!r}: a file name must be valid UTF-8 text")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidName(f"a file name may be at most {MAX_NAME_BYTES} bytes of UTF-8")
    return name


def check_path(path: str) -> tuple[str, ...]:
    """The components of a relative path, each an acceptable name, else :class:`InvalidName`."""
    if path.startswith("/"):
        raise InvalidName(f"{path!r}: an absolute path is not a name inside the session")
    parts = tuple(path.split("/"))
    if len(parts) > MAX_PATH_PARTS:
        raise InvalidName(f"a path may have at most {MAX_PATH_PARTS} parts")
    return tuple(check_name(part) for part in parts)
