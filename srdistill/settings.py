"""The base of every recipe model: unknown keys, booleans given for numbers and non-finite floats are errors.

pydantic's lax mode reads ``true`` as 1 for an ``int`` field and accepts ``.inf`` and ``.nan``
for a ``float`` one, so ``train.epochs: true`` would run one epoch and ``lr: .inf`` would train
on infinities. Every recipe section and component config derives from :class:`Settings`.
"""

from __future__ import annotations

import types
import typing
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class Settings(BaseModel):
    """Strict keys, frozen values, finite floats, and no ``true``/``false`` where a number belongs."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_not_booleans(cls, data: Any) -> Any:
        """A boolean given for a number becomes its YAML spelling, which then fails number validation
        with the field's own path (pydantic would read ``true`` as 1)."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, field in cls.model_fields.items():
            value = out.get(name)
            wants = _number_kinds(field.annotation)
            if isinstance(value, bool) and wants.scalar:
                out[name] = _spelled(value)
            elif isinstance(value, (list, tuple)) and wants.items:
                out[name] = [_spelled(v) if isinstance(v, bool) else v for v in value]
        return out


def _spelled(value: bool) -> str:
    return "true" if value else "false"


class _Wants(typing.NamedTuple):
    scalar: bool  # the field takes a number and no bool
    items: bool  # the field takes a list or tuple of numbers


def _number_kinds(annotation: Any) -> _Wants:
    members = _members(annotation)
    if bool in members:
        return _Wants(False, False)
    scalar = any(m in (int, float) for m in members)
    items = False
    for m in members:
        if typing.get_origin(m) in (list, tuple):
            args = [a for a in typing.get_args(m) if a is not Ellipsis]
            items = items or (bool(args) and all(a in (int, float) for a in args))
    return _Wants(scalar, items)


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [annotation]


def repeated(values: Sequence[Hashable]) -> list[Any]:
    """The values that occur more than once, sorted (what a "names must differ" rule reports)."""
    seen = Counter(values)
    return sorted(v for v, n in seen.items() if n > 1)
