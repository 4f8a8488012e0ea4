"""Field checks of the training configs: every value has its annotated type and a sane range, so a bad
``--set key=value`` (or ``config.json``) fails at once, naming the key, instead of deep in training."""

from __future__ import annotations

import dataclasses
import math
import types
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from kinema.errors import KinemaInputError


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of type ``hint`` (Literal, unions, fixed or variadic tuples, finite floats)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return value in args
    if origin in (Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args))
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is tuple:
        return f"a list of {_describe(args[0])}" if args[1:] == (Ellipsis,) else f"a list of {len(args)}: " + ", ".join(map(_describe, args))
    if hint is float:
        return "a finite number"
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))


def check_types(config: Any, prefix: str) -> None:
    """KinemaInputError naming ``prefix + field`` for the first field whose value is not of its annotated type."""
    for field in dataclasses.fields(config):
        value, hint = getattr(config, field.name), _hints(type(config))[field.name]
        if not matches(value, hint):
            raise KinemaInputError(f"{prefix}{field.name} {value!r}", f"is not {_describe(hint)}",
                                   f"Set it with e.g. --set {prefix}{field.name}=VALUE (JSON) or fix config.json.")


def require(ok: bool, key: str, value: Any, rule: str) -> None:
    """KinemaInputError naming ``key`` unless ``ok``."""
    if not ok:
        raise KinemaInputError(f"{key} {value!r}", f"must be {rule}",
                               f"Set it with e.g. --set {key}=VALUE or fix config.json.")
