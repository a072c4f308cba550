"""Dotted field names of a mapping: ``facts.low_income`` is ``low_income`` inside the payload's
``facts`` object (:class:`~events.payloads_cases.FactValues`).

The linter asks :func:`field_problem` whether every part of a name is a field of the model
it lies in (the catalogue's payload, then the object field's model); the converter writes a
value at its path with :func:`put` and reads one back for an event id with :func:`get`.
A name without a dot is a plain payload field and costs nothing extra.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel

__all__ = ["field_problem", "get", "overlaps", "put"]


def _object_model(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation holds (``FactValues``, ``FactValues | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _object_model(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        for arg in typing.get_args(annotation):
            found = _object_model(arg)
            if found is not None:
                return found
    return None


def field_problem(model: type[BaseModel], name: str) -> str | None:
    """Why ``name`` (``laid_off``, or a dotted path such as ``facts.low_income``) is not a
    field of ``model``, with a did-you-mean or the fields there are; None when it is."""
    parts = name.split(".")
    at: type[BaseModel] = model
    for depth, part in enumerate(parts):
        inside = ".".join(parts[:depth])
        if part not in at.model_fields:
            allowed = list(at.model_fields)
            close = difflib.get_close_matches(part, allowed, n=1, cutoff=0.6)
            if close:
                # the whole corrected path when the rest of it then resolves
                whole = ".".join([*parts[:depth], close[0], *parts[depth + 1 :]])
                if whole != name and field_problem(model, whole) is not None:
                    whole = ".".join([*parts[:depth], close[0]])
                hint = f"; did you mean {whole!r}?"
            else:
                hint = f" (fields{' of ' + inside if inside else ''}: {', '.join(allowed)})"
            return f"has no field {name!r}{hint}"
        if depth < len(parts) - 1:
            inner = _object_model(at.model_fields[part].annotation)
            if inner is None:
                whole = ".".join(parts[: depth + 1])
                return f"has no field {name!r}: {whole} is a value, not an object of fields"
            at = inner
    return None


def overlaps(names: Iterable[str]) -> list[tuple[str, str]]:
    """(object, dotted name) wherever ``names`` give an object field whole and also a field
    inside it (``facts`` and ``facts.low_income``): one would overwrite the other."""
    given = set(names)
    out = []
    for name in sorted(given):
        parts = name.split(".")
        for i in range(1, len(parts)):
            whole = ".".join(parts[:i])
            if whole in given:
                out.append((whole, name))
                break
    return out


def put(payload: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set ``value`` at ``path`` in ``payload``, making the objects on the way."""
    at = payload
    for part in path[:-1]:
        inner = at.get(part)
        if not isinstance(inner, dict):
            inner = at[part] = {}
        at = inner
    at[path[-1]] = value


def get(payload: dict[str, Any], name: str) -> Any:
    """The value at the dotted ``name`` in ``payload`` (None when it is not there)."""
    at: Any = payload
    for part in name.split("."):
        if not isinstance(at, dict):
            return None
        at = at.get(part)
    return at
