"""Who may use the service: bearer tokens, each naming one user.

Tokens come from ``[server] tokens`` (``"user:token"`` entries: the config file, or
``WEAVER_SERVER__TOKENS`` in the environment) and from ``[server] tokens_file``. A user name
becomes a directory (``<workspace>/users/<user>/``), so it is held to the characters of a
session id. Looking a token up compares it with every known token in constant time, so the
time an answer takes says nothing about how much of a guess was right.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

import attrs

from weaver.errors import ConfigError

USER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MIN_TOKEN_CHARS = 16
LOCAL_USER = "local"
"""The user of the token ``weaver serve`` makes when none is configured."""


@attrs.frozen
class Users:
    """Tokens and the users they name."""

    tokens: tuple[tuple[str, str], ...] = ()
    """``(token, user)`` pairs."""

    def user_for(self, token: str) -> str | None:
        """The user ``token`` belongs to, or ``None``; every token is compared, in constant time."""
        found = None
        given = token.encode("utf-8", "surrogatepass")
        for known, user in self.tokens:
            if hmac.compare_digest(known.encode("utf-8"), given):
                found = user
        return found

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted({user for _, user in self.tokens}))


def parse_entries(entries: Iterable[str], source: str) -> list[tuple[str, str]]:
    """``"user:token"`` entries as ``(token, user)`` pairs; a malformed one is a :class:`ConfigError`."""
    pairs = []
    for number, entry in enumerate(entries, 1):
        user, sep, token = entry.strip().partition(":")
        where = f"entry {number}"
        if not sep:
            raise ConfigError(f"{where} is not 'user:token'", source=source, table="server", key="tokens")
        if not USER_NAME.fullmatch(user):
            raise ConfigError(
                f"{where}: user name {user!r} must be 1 to 64 letters, digits, '_' and '-'",
                source=source, table="server", key="tokens",
            )  # fmt: skip
        if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
            raise ConfigError(
                f"{where}: the token of {user!r} must be at least {MIN_TOKEN_CHARS} characters, without spaces",
                source=source, table="server", key="tokens",
            )  # fmt: skip
        pairs.append((token, user))
    return pairs


def read_tokens_file(path: Path) -> list[tuple[str, str]]:
    """The pairs of a tokens file: one ``user:token`` a line, blank lines and ``#`` comments skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the tokens file: {exc}", source=str(path), table="server", key="tokens_file") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return parse_entries(lines, str(path))


def load_users(entries: Iterable[str], tokens_file: Path | None, source: str = "[server] tokens") -> Users:
    """Every configured token; the same token for two users is a :class:`ConfigError`."""
    pairs = parse_entries(entries, source)
    if tokens_file is not None:
        pairs += read_tokens_file(tokens_file)
    owners: dict[str, str] = {}
    for token, user in pairs:
        if owners.setdefault(token, user) != user:
            raise ConfigError(
                f"one token is given to both {owners[token]!r} and {user!r}", source=source, table="server", key="tokens"
            )
    return Users(tuple(dict.fromkeys(pairs)))


def generated_users() -> tuple[Users, str]:
    """A fresh random token for :data:`LOCAL_USER`, for a server started with none configured."""
    token = secrets.token_urlsafe(24)
    return Users(((token, LOCAL_USER),)), token
