"""Layered TOML configuration with typed, validated tables and provenance.

Layers, lowest first:

1. built-in defaults (each table's attrs schema);
2. the user file: ``$WEAVER_CONFIG`` or ``~/.config/weaver/config.toml``;
3. the project's ``weaver.toml``;
4. the environment: ``WEAVER_<TABLE>__<KEY>`` (``__`` separates levels), plus the
   ``openai`` SDK's own ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` for ``[llm]``;
5. explicit overrides from the Python API (``App(**{"session.max_hops": 5})``) or the CLI
   (``--set session.max_hops=5``).

Each table belongs to one extension (:class:`weaver.specs.ConfigTable`) and is validated
against its attrs schema: an unknown key, a wrong type or a value its validator refuses is
a :class:`ConfigError` naming the layer it came from, the table and the key. A table nobody
owns (an uninstalled extension's) is kept raw and reported as a warning, so uninstalling
never breaks a project.

Range checks are attrs validators on the schema's fields, built with :func:`at_least`,
:func:`greater_than` and :func:`one_of`, so the error names the key::

    @attrs.frozen
    class RetryGuardConfig:
        max_identical_errors: int = attrs.field(default=3, validator=at_least(0))

Looking a table up by its schema class is typed: ``config.table(RetryGuardConfig)`` is a
``RetryGuardConfig``. The core's own tables (``[session]``, ``[workspace]``,
``[extensions]``, ``[approval]``) are defined at the end of this module; the execution, LLM
and plugin tables in ``config`` modules of those packages, and every extension's in its own.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import attrs

from weaver.errors import ConfigError
from weaver.specs import ConfigTable

if TYPE_CHECKING:
    import cattrs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ENV_PREFIX = "WEAVER_"
CONFIG_ENV = "WEAVER_CONFIG"
PROJECT_FILE = "weaver.toml"
SDK_ENV = {"OPENAI_API_KEY": ("llm", "api_key"), "OPENAI_BASE_URL": ("llm", "base_url")}
_NOT_TABLES = {"CONFIG", "LOAD_PLUGINS"}
# The last word of a key names what it holds: ``api_key`` is a secret, ``max_tokens`` and
# ``api_key_env`` (the name of a variable) are not.
_SECRET = re.compile(r"(^|_)(key|secret|token|password)$", re.IGNORECASE)
DEFAULTS = "defaults"
T = TypeVar("T")


# --------------------------------------------------------------------------------------
# Validators for config tables: a refused value names its key
# --------------------------------------------------------------------------------------


class InvalidValue(ValueError):
    """A validator refused the value of ``key``."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _validator(accepts: Callable[[Any], bool], wanted: str) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not accepts(value):
            raise InvalidValue(attribute.name, f"must be {wanted}, got {value!r}")

    return check


def at_least(minimum: float) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """Refuse a number below ``minimum`` (``at_least(0)``: no negative counts or limits)."""
    return _validator(lambda value: value >= minimum, f"at least {minimum:g}")


def greater_than(bound: float) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """Refuse a number not above ``bound`` (``greater_than(0)``: a positive timeout)."""
    return _validator(lambda value: value > bound, f"greater than {bound:g}")


def one_of(*choices: str) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """Refuse a value that is not one of ``choices``."""
    return _validator(lambda value: value in choices, f"one of {', '.join(choices)}")


class TextValue(str):
    """A value given as text (environment, ``--set``): converted to the schema's type when read."""


@attrs.frozen
class Layer:
    """One source of values: its label (a path, ``environment``, ``--set``) and its nested tables."""

    source: str
    data: Mapping[str, Any]


def user_config_path(environ: Mapping[str, str] = os.environ) -> Path:
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]).expanduser()
    base = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "weaver" / "config.toml"


def read_toml(path: Path) -> Layer | None:
    """The file as a layer, or ``None`` if it does not exist; anything else unreadable is a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start}): save it as UTF-8", source=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a TOML file", source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror or exc}", source=str(path)) from None
    try:
        return Layer(str(path), tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None


def env_layer(environ: Mapping[str, str]) -> Layer:
    data: dict[str, Any] = {}
    for name, (table, key) in SDK_ENV.items():
        if environ.get(name):
            data.setdefault(table, {})[key] = TextValue(environ[name])
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name[len(ENV_PREFIX) :] in _NOT_TABLES or "__" not in name:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        _set_path(data, path, TextValue(value))
    return Layer("environment", data)


def overrides_layer(overrides: Mapping[str, Any], source: str) -> Layer:
    """``{"session.max_hops": 5}`` or ``{"session": {"max_hops": 5}}`` as a layer."""
    data: dict[str, Any] = {}
    for dotted, value in overrides.items():
        if isinstance(value, Mapping) and "." not in dotted:
            for key, inner in value.items():
                _set_path(data, [dotted, *key.split(".")], inner)
        else:
            _set_path(data, dotted.split("."), value)
    return Layer(source, data)


def parse_assignment(text: str) -> tuple[str, TextValue]:
    """``table.key=value`` from ``--set`` as ``("table.key", "value")``."""
    key, sep, value = text.partition("=")
    if not sep or "." not in key:
        raise ConfigError(f"expected table.key=value, got {text!r}", source="--set")
    return key.strip(), TextValue(value.strip())


def _set_path(data: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {})
    data[path[-1]] = value


def _merge(layers: Iterable[Layer]) -> tuple[dict[str, Any], dict[str, str]]:
    """Deep-merge layers; ``sources`` maps every dotted leaf key to the layer that set it."""
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def walk(target: dict[str, Any], data: Mapping[str, Any], prefix: str, source: str) -> None:
        for key, value in data.items():
            dotted = f"{prefix}{key}"
            if isinstance(value, Mapping):
                walk(target.setdefault(key, {}), value, dotted + ".", source)
            else:
                target[key] = value
                sources[dotted] = source

    for layer in layers:
        walk(merged, layer.data, "", layer.source)
    return merged, sources


# --------------------------------------------------------------------------------------
# Validation: a strict converter, separate from weaver.serde's tolerant one
# --------------------------------------------------------------------------------------


def _strict_scalar(kind: type) -> Any:
    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, TextValue) and kind is not str:
            return from_text(value, kind)
        if kind is float and type(value) is int:
            return float(value)
        if type(value) is not kind and not (kind is str and isinstance(value, str)):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
        return value

    return structure


def from_text(text: str, kind: type) -> Any:
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"expected {kind.__name__}, got {text!r}") from None


def _is_sequence(t: Any) -> bool:
    return getattr(t, "__origin__", None) in (tuple, list)


@functools.cache
def _strict() -> cattrs.Converter:
    """Built on first use, so that commands that read no configuration (``--help``) skip cattrs."""
    import cattrs

    converter = cattrs.Converter(forbid_extra_keys=True)
    for kind in (int, float, str, bool):
        converter.register_structure_hook(kind, _strict_scalar(kind))

    def sequence_hook(t: Any) -> Any:
        origin = t.__origin__
        item_type = t.__args__[0] if t.__args__ else Any

        def structure(value: Any, _: Any) -> Any:
            if isinstance(value, TextValue):
                value = [TextValue(part.strip()) for part in value.split(",") if part.strip()]
            elif isinstance(value, str) or not isinstance(value, (list, tuple)):
                raise TypeError(f"expected a list, got {type(value).__name__} {value!r}")
            return origin(converter.structure(item, item_type) for item in value)

        return structure

    converter.register_structure_hook_factory(_is_sequence, sequence_hook)
    return converter


def _first_error(exc: BaseException) -> tuple[list[str], str]:
    """The path (keys) and message of the first leaf error in a cattrs exception group."""
    import cattrs  # as in _strict: only once a configuration is validated

    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        key = min(exc.extra_fields)
        known = [field.name for field in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        return [key], "unknown key" + _did_you_mean(key, known)
    if isinstance(exc, InvalidValue):
        return [exc.key], str(exc)
    if isinstance(exc, cattrs.ClassValidationError):
        with_notes, without = exc.group_exceptions()
        if with_notes:
            inner, note = with_notes[0]
            path, message = _first_error(inner)
            return [note.name, *path], message
        return _first_error(without[0])
    # cattrs' own group base, not the ExceptionGroup builtin, which Python 3.10 lacks.
    if isinstance(exc, cattrs.BaseValidationError):
        return _first_error(exc.exceptions[0])
    return [], str(exc)


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _validate(table: ConfigTable, raw: Mapping[str, Any], sources: Mapping[str, str]) -> Any:
    try:
        return _strict().structure(dict(raw), table.schema)
    except Exception as exc:  # noqa: BLE001 - turned into one ConfigError
        path, message = _first_error(exc)
        dotted = ".".join([table.name, *path])
        source = next(
            (src for key, src in sources.items() if key == dotted or dotted.startswith(key + ".") or key.startswith(dotted + ".")),
            DEFAULTS,
        )
        raise ConfigError(message, source=source, table=table.name, key=".".join(path)) from None


# --------------------------------------------------------------------------------------
# The effective configuration
# --------------------------------------------------------------------------------------


@attrs.frozen
class Config:
    """The effective configuration: validated tables, and where each value came from."""

    tables: Mapping[str, Any]
    sources: Mapping[str, str]
    project_dir: Path
    unowned: Mapping[str, Any] = attrs.field(factory=dict)
    deprecations: tuple[str, ...] = ()
    """Values found under a key that moved, and where they were used instead."""

    @overload
    def table(self, key: type[T]) -> T: ...

    @overload
    def table(self, key: str) -> Any: ...

    def table(self, key: str | type[Any]) -> Any:
        """The validated table, by its name (``"planner"``) or its schema class (typed).

        ``config.table(PlannerConfig)`` returns the table whose schema is ``PlannerConfig``.
        """
        if isinstance(key, type):
            found = next((value for value in self.tables.values() if type(value) is key), None)
            if found is None:
                raise ConfigError(f"no installed extension owns a table with the schema {key.__qualname__}")
            return found
        try:
            return self.tables[key]
        except KeyError:
            raise ConfigError("no installed extension owns this table", table=key) from None

    @property
    def warnings(self) -> tuple[str, ...]:
        unowned = tuple(
            f"[{name}] in {self.sources.get(next(iter(_leaves(name, raw)), name), '?')} is not used: "
            "no installed extension owns it" + _did_you_mean(name, self.tables)
            for name, raw in self.unowned.items()
        )
        return (*unowned, *self.deprecations)

    def rows(self, secret_keys: Mapping[str, frozenset[str]] = {}) -> list[tuple[str, Any, str]]:
        """``(table.key, value, source)`` for every leaf value, secrets masked."""
        rows = []
        for name, value in sorted(self.tables.items()):
            data = _strict().unstructure(value) if attrs.has(type(value)) else value
            for dotted, leaf in _leaves(name, data).items():
                key = dotted.rsplit(".", 1)[-1]
                if leaf and (_SECRET.search(key) or key in secret_keys.get(name, ())):
                    leaf = "****"
                rows.append((dotted, leaf, self.sources.get(dotted, DEFAULTS)))
        return rows


def _leaves(prefix: str, data: Any) -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_leaves(f"{prefix}.{key}", value))
        return out
    return {prefix: data}


def read_layers(
    project_dir: Path,
    overrides: Mapping[str, Any] = {},
    environ: Mapping[str, str] = os.environ,
    cli_sets: Iterable[str] = (),
) -> list[Layer]:
    """Every layer above the defaults, lowest first."""
    layers = [
        layer
        for layer in (read_toml(user_config_path(environ)), read_toml(project_dir / PROJECT_FILE))
        if layer is not None
    ]
    layers.append(env_layer(environ))
    if overrides:
        layers.append(overrides_layer(overrides, "overrides"))
    sets = [parse_assignment(item) for item in cli_sets]
    if sets:
        layers.append(overrides_layer(dict(sets), "--set"))
    return layers


def extensions_strict(layers: Iterable[Layer]) -> bool:
    """``[extensions] strict``, read before extensions load (so before its table is validated)."""
    raw, sources = _merge(layers)
    section = raw.get("extensions")
    value = section.get("strict", False) if isinstance(section, Mapping) else False
    try:
        return _strict_scalar(bool)(value, bool)
    except (TypeError, ValueError) as exc:
        source = sources.get("extensions.strict", DEFAULTS)
        raise ConfigError(str(exc), source=source, table="extensions", key="strict") from None


def _relocate(raw: dict[str, Any], sources: dict[str, str], tables: Mapping[str, ConfigTable]) -> list[str]:
    """Move values found under a key a table declares moved to where it went; say so."""
    notes = []
    for name, table in tables.items():
        section = raw.get(name)
        if not isinstance(section, dict):
            continue
        for old, new in table.moved.items():
            if old not in section:
                continue
            value = section.pop(old)
            source = sources.pop(f"{name}.{old}", DEFAULTS)
            target_table, _, target_key = new.partition(".")
            notes.append(f"[{name}] {old} in {source} is deprecated: it moved to [{target_table}] {target_key}")
            target = raw.setdefault(target_table, {})
            if isinstance(target, dict) and target_key not in target:
                target[target_key] = value
                sources[new] = source
    return notes


def build_config(project_dir: Path, layers: Iterable[Layer], tables: Mapping[str, ConfigTable]) -> Config:
    """Validate the merged layers against the tables extensions declared."""
    raw, sources = _merge(layers)
    deprecations = _relocate(raw, sources, tables)
    validated = {}
    for name, table in tables.items():
        section = raw.get(name, {})
        if not isinstance(section, Mapping):
            raise ConfigError("expected a table", source=sources.get(name, DEFAULTS), table=name)
        validated[name] = _validate(table, section, sources)
    unowned = {name: value for name, value in raw.items() if name not in tables}
    return Config(
        tables=validated, sources=sources, project_dir=project_dir, unowned=unowned, deprecations=tuple(deprecations)
    )


# --------------------------------------------------------------------------------------
# The core's own tables (the roles', guards' and others' live in their packages)
# --------------------------------------------------------------------------------------


@attrs.frozen
class SessionConfig:
    """``[session]``: which roles take part and how long a round may go on."""

    roles: tuple[str, ...] = ("planner", "code_interpreter")
    entry: str = ""
    """The role that receives the user's message; empty means the first of ``roles``."""
    max_hops: int = attrs.field(default=30, validator=at_least(1))
    """Posts a round may route before it is stopped."""
    round_timeout_s: float = attrs.field(default=0.0, validator=at_least(0))
    """Seconds a round may take in all before it is stopped (0: no limit)."""
    max_message_chars: int = attrs.field(default=100_000, validator=at_least(1000))
    """The longest message or attachment kept in history and prompts; a longer one (a huge
    paste, a runaway reply) is kept whole in a file beside the session's log and enters the
    history as its head and tail with a note saying where the rest is."""
    delta_interval_s: float = attrs.field(default=1 / 30, validator=at_least(0))
    """Streamed text (a plan, code, a message as the model writes it) is published at most
    this often per part: deltas arriving faster are joined into one event, about 30 updates
    a second by default (0: every delta as it arrives)."""


@attrs.frozen
class WorkspaceConfig:
    """``[workspace]``: where sessions keep their logs, working directories and artifacts."""

    dir: str = ".weaver"


@attrs.frozen
class ExtensionsConfig:
    """``[extensions]``: ``strict = true`` makes a broken extension fatal."""

    strict: bool = False


CODE_POLICIES = ("never", "always", "risky")


@attrs.frozen
class ApprovalConfig:
    """``[approval]``: when a person must approve before work goes on.

    ``code``: ``never`` (default), ``always``, or ``risky`` (file writes, network libraries,
    plugins costing more per call than ``plugin_cost_over``, and whatever an installed policy
    extension flags). ``plan``: the
    user confirms or edits the Planner's plan before its first worker step. ``timeout_s``:
    how long a request waits for an answer before it counts as rejected.
    """

    code: str = attrs.field(default="never", validator=one_of(*CODE_POLICIES))
    plan: bool = False
    timeout_s: float = attrs.field(default=600.0, validator=greater_than(0))
    plugin_cost_over: float = attrs.field(default=0.0, validator=at_least(0))
    """Under ``code = "risky"``, a call to a plugin whose ``cost`` per call is above this asks first."""
    plugin_calls: str = attrs.field(default="never", validator=one_of("never", "always", "costly"))
    """When a call of a host plugin, made by running code, waits for a person: ``never``,
    ``always``, or ``costly`` (the plugin's ``cost`` per call is above ``plugin_cost_over``).
    The time a person takes does not count toward ``[execution] timeout_s``."""
