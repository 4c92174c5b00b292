"""``@weaver.plugin``: a typed Python function becomes a plugin.

The schema comes from the function itself: parameter types from the annotations (as
written, so ``pd.DataFrame`` stays ``pd.DataFrame`` even when pandas is only imported
inside the function), required-ness from defaults, the description, parameter texts,
returns, examples and config keys from the docstring (Google style or reST). Every
parameter and the return must be annotated: the model is never told ``Any`` for a value it
has to get right.

Example::

    from __future__ import annotations

    import weaver

    @weaver.plugin(config=("db_path",), batch="lookup_many")
    def lookup(key: str, fuzzy: bool = False) -> pd.DataFrame:
        \"\"\"Rows whose key matches.

        Args:
            key: the key to look up.
            fuzzy: match by prefix instead of equality.
        Returns:
            rows (pd.DataFrame): the matching rows.
        \"\"\"
        import pandas as pd
        from weaver.plugins import context
        ...

The function is returned unchanged (with the schema in ``__weaver_plugin__``), so it stays
an ordinary function that tests can call.
"""

from __future__ import annotations

import inspect
import keyword
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

import attrs

from weaver.errors import PluginLoadError
from weaver.plugins.schema import Parameter, PluginSchema, ReturnValue, parse_docstring

F = TypeVar("F", bound=Callable[..., Any])
SCHEMA_ATTR = "__weaver_plugin__"


@overload
def plugin(func: F) -> F: ...


@overload
def plugin(
    func: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    examples: Iterable[str] = (),
    config: Iterable[str] = (),
    batch: str | None = None,
    host: bool = False,
) -> Callable[[F], F]: ...


def plugin(
    func: F | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    examples: Iterable[str] = (),
    config: Iterable[str] = (),
    batch: str | None = None,
    host: bool = False,
) -> F | Callable[[F], F]:
    """Declare ``func`` a plugin; usable bare (``@weaver.plugin``) or with options.

    ``name`` defaults to the function's name; ``description`` to the docstring's text;
    ``examples`` and ``config`` add to what the docstring's ``Examples:`` and ``Config:``
    sections list; ``batch`` names a plugin that takes many inputs in one call; ``host``
    runs it on the host, with its config and secrets, and gives the kernel a typed stub
    that calls it (:mod:`weaver.plugins.host`).
    Raises :class:`weaver.errors.PluginLoadError` when the function cannot be a plugin.
    """

    def decorate(function: F) -> F:
        schema = schema_of(function, name=name, description=description, examples=examples, config=config, batch=batch)
        if host:
            schema = attrs.evolve(schema, host=True)
        setattr(function, SCHEMA_ATTR, schema)
        return function

    return decorate(func) if func is not None else decorate


def schema_of(
    function: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    examples: Iterable[str] = (),
    config: Iterable[str] = (),
    batch: str | None = None,
) -> PluginSchema:
    """The schema of a plugin function (or of a callable class's ``__call__``)."""
    declared = getattr(function, SCHEMA_ATTR, None)
    if isinstance(declared, PluginSchema) and name in (None, declared.name):
        return declared
    target = function.__call__ if inspect.isclass(function) else function
    plugin_name: str = name or str(getattr(function, "__name__", ""))
    source = _source(target)

    def fail(message: str) -> PluginLoadError:
        return PluginLoadError(message, name=plugin_name, source=source)

    if not plugin_name.isidentifier() or keyword.iskeyword(plugin_name):
        raise fail("the name must be a Python identifier, since generated code calls it by name")
    if batch is not None and not batch.isidentifier():
        raise fail(f"the batch variant {batch!r} must be a Python identifier")
    doc = parse_docstring(
        inspect.getdoc(target) if not inspect.isclass(function) else (target.__doc__ or function.__doc__)
    )
    signature = inspect.signature(target)
    raw = getattr(target, "__annotations__", {})
    parameters = []
    for index, param in enumerate(signature.parameters.values()):
        if inspect.isclass(function) and index == 0 and param.name == "self":
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise fail(f"*{param.name} and **{param.name} cannot be described to the model; name each parameter")
        if param.kind is param.POSITIONAL_ONLY:
            raise fail(f"parameter {param.name!r} is positional-only; plugins are called with keywords too")
        if param.name not in raw:
            raise fail(f"parameter {param.name!r} has no type annotation; annotate it so the model sees its real type")
        required = param.default is param.empty
        parameters.append(
            Parameter(
                name=param.name,
                type=type_text(raw[param.name]),
                required=required,
                description=doc.params.get(param.name, ""),
                default=None if required else repr(param.default),
            )
        )
    unknown = sorted(set(doc.params) - {p.name for p in parameters})
    if unknown:
        raise fail(f"the docstring documents {', '.join(unknown)}, which the function does not take")
    if "return" not in raw:
        raise fail("the return value has no type annotation; annotate it (use None if it returns nothing)")
    returns = _returns(type_text(raw["return"]), doc.returns)
    text = description if description is not None else doc.description
    if not text.strip():
        raise fail("it has no description: give it a docstring that says what it does")
    return PluginSchema(
        name=plugin_name,
        description=text.strip(),
        parameters=tuple(parameters),
        returns=returns,
        examples=(*doc.examples, *examples),
        config_keys=tuple(dict.fromkeys((*doc.config_keys, *config))),
        batch=batch,
    )


def _returns(annotation: str, documented: tuple[ReturnValue, ...]) -> tuple[ReturnValue, ...]:
    """Documented returns get their types from the annotation (one value, or a tuple's parts)."""
    if annotation == "None":
        return ()
    parts = _tuple_parts(annotation)
    if len(documented) > 1 and parts is not None and len(parts) == len(documented):
        return tuple(ReturnValue(d.name, t, d.description) for d, t in zip(documented, parts))
    first = documented[0] if documented else ReturnValue("result", annotation)
    return (ReturnValue(first.name or "result", annotation, first.description),)


def _tuple_parts(annotation: str) -> list[str] | None:
    for prefix in ("tuple[", "Tuple[", "typing.Tuple["):
        if annotation.startswith(prefix) and annotation.endswith("]"):
            inner, depth, parts, current = annotation[len(prefix) : -1], 0, [], ""
            for char in inner:
                depth += char in "[("
                depth -= char in "])"
                if char == "," and depth == 0:
                    parts.append(current.strip())
                    current = ""
                else:
                    current += char
            parts.append(current.strip())
            return parts
    return None


def type_text(annotation: Any) -> str:
    """An annotation as the model should read it: source text as written, or a readable name."""
    if isinstance(annotation, str):
        return annotation
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        module, qualname = annotation.__module__, annotation.__qualname__
        if module == "builtins":
            return qualname
        root = module.split(".")[0]
        if getattr(sys.modules.get(root), qualname, None) is annotation:
            return f"{root}.{qualname}"
        return f"{module}.{qualname}"
    return inspect.formatannotation(annotation)


def _source(function: Any) -> str:
    try:
        return f"{inspect.getsourcefile(function)}:{inspect.getsourcelines(function)[1]}"
    except (OSError, TypeError):
        return getattr(function, "__module__", "") or ""
