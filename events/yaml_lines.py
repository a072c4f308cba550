"""YAML configuration read into plain objects that remember the line of every key and item,
and pydantic's validation errors said as ``path:line: where: message``.

Configuration files (import mappings, recognition rules, case policy) are validated by
pydantic models; what those models reject is reported at the line of the key at fault, with
a did-you-mean for a misspelt key or value.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["Loc", "Nested", "YamlLines", "YamlSyntaxError", "model_at", "problems", "where"]

Loc = tuple[str | int, ...]


class YamlSyntaxError(ValueError):
    """The text is not valid YAML; the message is ``path:line: not valid YAML: …``."""


class YamlLines:
    """YAML read into plain objects, remembering the line of every key and item."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines: dict[Loc, int] = {}
        self._loader = yaml.SafeLoader("")
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 1
            problem = getattr(exc, "problem", None) or str(exc)
            raise YamlSyntaxError(f"{path}:{line}: not valid YAML: {problem}") from exc
        self.doc = self._build(node, ()) if node is not None else None

    def _build(self, node: yaml.Node, at: Loc) -> Any:
        self.lines.setdefault(at, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(self._scalar(key_node))
                self.lines[(*at, key)] = key_node.start_mark.line + 1
                out[key] = self._build(value_node, (*at, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._build(item, (*at, i)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        """A scalar typed as YAML types it (``1`` an int, ``true`` a bool)."""
        return self._loader.construct_object(node, deep=True)

    def line_of(self, loc: Loc) -> int:
        """The line of ``loc`` or of its nearest ancestor the file has."""
        while loc and loc not in self.lines:
            loc = loc[:-1]
        return self.lines.get(loc, 1)

    def say(self, loc: Loc, message: str) -> str:
        """``path:line: where: message`` for a problem at ``loc``."""
        return f"{self.path}:{self.line_of(loc)}: {where(loc)}: {message}"


def where(loc: Loc) -> str:
    """A location as a reader writes it: ``fields.age.type``, ``skip[2]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


_SCALAR_TAGS = frozenset({"str", "int", "float", "bool", "none"})


def _is_scalar_tag(part: str) -> bool:
    return part in _SCALAR_TAGS or part.startswith("literal[")


def _is_tag(part: str, model_names: frozenset[str]) -> bool:
    """A union branch name pydantic puts in an error's location (not a key of the file)."""
    return _is_scalar_tag(part) or part in model_names or part.startswith("function-")


#: key -> (the model of its value, how many parts of a location it spans: 2 for the values
#: of a dict or list, as in ``fields.NAME`` or ``skip[I]``)
Nested = Mapping[str, tuple[type[BaseModel], int]]


def model_at(loc: Loc, root: type[BaseModel], nested: Nested) -> type[BaseModel] | None:
    """The model whose keys are allowed at ``loc`` of a document of ``root`` (None: not a
    place of the document's models)."""
    model = root
    i = 0
    while i < len(loc):
        name = str(loc[i])
        if name not in model.model_fields or name not in nested:
            return None
        model, step = nested[name]
        i += step
    return model


def problems(
    exc: ValidationError,
    lines: YamlLines,
    root: type[BaseModel],
    nested: Nested,
    model_names: frozenset[str] = frozenset(),
) -> list[str]:
    """Every error of ``exc`` as ``path:line: where: message``, sorted by line; an unknown
    key gets a did-you-mean from the keys the model at its place allows (:func:`model_at`)."""
    out: list[tuple[int, str]] = []
    seen: set[tuple[Any, ...]] = set()
    for err in exc.errors(include_url=False):
        # pydantic's loc names the branches of a union ("str", "EventTypeSpec",
        # "literal['blank']"): they are not keys of the file. A dict given where a scalar is
        # one branch is reported against the other branch only.
        raw = tuple(err["loc"])
        scalar_branch = any(isinstance(p, str) and _is_scalar_tag(p) for p in raw)
        if scalar_branch and isinstance(err.get("input"), dict):
            continue
        loc = tuple(p for p in raw if not (isinstance(p, str) and _is_tag(p, model_names)))
        key = (loc, err["type"])
        if key in seen:
            continue
        seen.add(key)
        line = lines.line_of(loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            model = model_at(loc[:-1], root, nested)
            allowed = list(model.model_fields) if model else []
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            listed = f" (allowed: {', '.join(allowed)})" if allowed and not close else ""
            msg = f"unknown key {loc[-1]!r}{hint}{listed}"
        elif kind == "missing":
            msg = f"missing key {loc[-1]!r}"
            loc = loc[:-1]
        elif kind == "literal_error" and isinstance(err.get("input"), str):
            expected = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
            close = difflib.get_close_matches(err["input"], expected, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            msg = f"unknown value {err['input']!r}{hint} (one of {', '.join(expected)})"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
        out.append((line, f"{lines.path}:{line}: {where(loc)}: {msg}"))
    return [text for _, text in sorted(out, key=lambda p: p[0])]
