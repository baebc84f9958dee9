"""Typed settings: a dataclass ``Config`` built from a mapping, checked by key.

The schema language of stage, reader and run settings, under the stage contract: field types
(``Literal``, unions, lists, mappings, nested dataclasses), numeric ranges (``field(default=0.8,
metadata=bounds(gt=0, le=1))``; a bound may be a function of the whole config), every float finite,
local path fields (``metadata=PATH``, resolved by the recipe loader), fields naming the recipe's sources
(``SOURCES``, ``SOURCES_OR_KINDS``), and a Config's ``check()`` (rules between settings; a ValueError
``"key: why"``) run after the range checks. Every error is a ``RecipeError`` naming the key at fault
(``stages[2].dedup.treshold``) and the allowed ones. Stage packages import this module, never the
recipe loader (``curate.recipe``), so their resume keys do not follow the loader's code.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any


class RecipeError(ValueError):
    """A recipe that cannot be run; the message names the key at fault."""


def did_you_mean(value: Any, choices: typing.Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to a misspelt ``value``, else ""."""
    close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


MAX_NAME_BYTES = 200  # a name becomes a file or directory name (255 bytes at most on common file systems)


def check_plain_name(value: str, where: str) -> str:
    """``value`` when it can name a file or directory as it is: not empty, no ``/`` or ``\\``, no leading
    ``.`` (``..``, hidden files), no control or other unprintable characters, at most MAX_NAME_BYTES bytes;
    else a RecipeError naming ``where``."""
    bad = next((c for c in value if not c.isprintable() or c in "/\\"), None)
    if not value or value.startswith(".") or bad is not None or len(value.encode("utf-8", "replace")) > MAX_NAME_BYTES:
        why = (
            f"contains {bad!r}"
            if bad is not None
            else "starts with '.'"
            if value.startswith(".")
            else "is empty"
            if not value
            else f"is longer than {MAX_NAME_BYTES} bytes"
        )
        raise RecipeError(
            f"{where}: {value!r} is not a plain name ({why}): it names files and directories of the "
            "run; use letters, digits, '-', '_' or '.' inside"
        )
    return value


def check_type(value: Any, tp: Any, where: str) -> Any:
    if tp in (list, dict):  # a bare list or dict: any items, but a list or a mapping all the same
        tp = list[Any] if tp is list else dict[Any, Any]
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if isinstance(value, bool) or value not in choices:
            raise RecipeError(f"{where}: {value!r} is not one of {', '.join(map(repr, choices))}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for alt in typing.get_args(tp):
            try:
                return check_type(value, alt, where)
            except RecipeError as e:
                errors.append(str(e))
        raise RecipeError(f"{where}: {value!r} does not match {tp}")
    if tp is type(None):
        if value is None:
            return None
        raise RecipeError(f"{where}: expected null, got {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise RecipeError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        (item_tp,) = typing.get_args(tp) or (Any,)
        return [check_type(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise RecipeError(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
        ktp, vtp = typing.get_args(tp) or (Any, Any)
        return {check_type(k, ktp, f"{where}"): check_type(v, vtp, f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecipeError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise RecipeError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:  # 1e6 is read as a float
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecipeError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise RecipeError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise RecipeError(f"{where}: expected a string, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return build_config(tp, value, where)
    return value


Bound = float | typing.Callable[[Any], float] | None
PATH = {"path": True}  # field metadata: a local path, resolved against the recipe's base_dir like source paths
# Field metadata: the field names sources of the recipe (a list's items, a mapping's keys): SOURCES by name,
# SOURCES_OR_KINDS by name or kind. A name set in the recipe that no source has is an error naming the key.
SOURCES = {"sources": "names"}
SOURCES_OR_KINDS = {"sources": "names or kinds"}


def bounds(ge: Bound = None, gt: Bound = None, le: Bound = None, lt: Bound = None) -> dict[str, Any]:
    """Field metadata declaring a range: every number in the field (a list's items, a mapping's values)
    must satisfy it. A bound may be a function of the config (e.g. a minimum vocab size that depends on
    the special tokens)."""
    return {"bounds": {"ge": ge, "gt": gt, "le": le, "lt": lt}}


_TESTS = {
    "ge": (lambda v, b: v >= b, ">="),
    "gt": (lambda v, b: v > b, ">"),
    "le": (lambda v, b: v <= b, "<="),
    "lt": (lambda v, b: v < b, "<"),
}


def _numbers(value: Any, where: str) -> list[tuple[str, float]]:
    """(key, number) for every number in ``value`` (list items as ``key[i]``, mapping values as ``key.k``)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [(where, value)]
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in _numbers(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [n for i, v in enumerate(value) for n in _numbers(v, f"{where}[{i}]")]
    return []


def check_bounds(config: Any, where: str) -> None:
    """Raise RecipeError naming the key of the first number outside its declared range."""
    for f in dataclasses.fields(config):
        spec = f.metadata.get("bounds")
        if not spec:
            continue
        limits = {k: (b(config) if callable(b) else b) for k, b in spec.items() if b is not None}
        rule = " and ".join(
            f"{_TESTS[k][1]} {b:g}" if isinstance(b, float) else f"{_TESTS[k][1]} {b}" for k, b in limits.items()
        )
        for key, v in _numbers(getattr(config, f.name), f"{where}.{f.name}"):
            if not all(_TESTS[k][0](v, b) for k, b in limits.items()):
                raise RecipeError(f"{key}: {v!r} is out of range (must be {rule})")


def build_config(cls: type, data: dict | None, where: str) -> Any:
    """Instantiate dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types by name."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: expected a mapping of settings, got {type(data).__name__} {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise RecipeError(
            f"{where}: unknown key {unknown[0]!r}{did_you_mean(unknown[0], fields)}; allowed keys: "
            f"{', '.join(sorted(fields))}"
        )
    kwargs = {k: check_type(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise RecipeError(f"{where}: missing required key {missing[0]!r}")
    try:
        config = cls(**kwargs)  # a Config's __post_init__ may check rules between fields (ValueError)
        check_bounds(config, where)
        if callable(getattr(config, "check", None)):  # rules between settings, once each is in its range
            config.check()
    except ValueError as e:  # "key: why" names the key, a nested config's error its path below ``where``
        msg = str(e)
        if isinstance(e, RecipeError) and msg.startswith(where):
            raise
        key = msg.split(":", 1)[0].split(".", 1)[0]
        raise RecipeError(f"{where}.{msg}" if key in fields else f"{where}: {msg}") from None
    return config
