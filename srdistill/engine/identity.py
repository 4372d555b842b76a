"""When a rerun continues a run: the rule that compares a saved recipe with the one given now.

Two resolved recipes describe the same run when

* every field both of them have holds the same value, and
* every field only the new one has (added to srdistill since the run started) holds its
  default, i.e. the value it would get if the recipe did not set it.

Fields only the saved recipe has (removed since) are ignored. So upgrading srdistill never turns
an unfinished run into "a different recipe", while any setting that changes the run does.
Settings that only say where and how often a run is logged (:data:`LOGGING`) are not part of it:
switching W&B to offline after it failed to start, say, continues the run.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import ValidationError

from srdistill.recipe.schema import Recipe, recipe_model

#: what only decides where and how often a run is logged, never what it computes
LOGGING = ("wandb", "train.tensorboard", "train.log_every")


def differences(saved: dict[str, Any], recipe: Recipe) -> list[str]:
    """What differs between the ``saved`` resolved recipe and ``recipe``, one ``key: old → new`` each."""
    now = recipe.model_dump(mode="json")
    old_flat, new_flat = _without_logging(_in_todays_terms(saved)), _without_logging(_flatten(now))
    found = []
    for key in sorted(old_flat.keys() & new_flat.keys()):
        if old_flat[key] != new_flat[key]:
            found.append(f"{key}: {old_flat[key]!r} → {new_flat[key]!r}")
    for key in sorted(new_flat.keys() - old_flat.keys()):
        if _under_leaf(key, old_flat) or new_flat[key] != _default(now, key):
            found.append(f"{key}: (not set) → {new_flat[key]!r}")
    for key in sorted(old_flat.keys() - new_flat.keys()):
        if _under_leaf(key, new_flat):  # e.g. a whole section set to null
            found.append(f"{key}: {old_flat[key]!r} → (not set)")
    return found


def _in_todays_terms(saved: dict[str, Any]) -> dict[str, Any]:
    """The saved recipe's leaves as this version resolves them, so an older spelling of a value
    (``runtime.compile: false`` for today's ``none``) compares equal; the fields it lacks stay
    unset. As saved where it no longer validates."""
    flat = _flatten(saved)
    try:
        today = _flatten(recipe_model().model_validate(saved).model_dump(mode="json"))
    except ValidationError:
        return flat
    return {key: today.get(key, value) for key, value in flat.items()}


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys of every leaf; lists of sections are entered by index, other lists are leaves."""
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for k, v in data.items():
            out |= _flatten(v, f"{prefix}{k}.")
        return out
    if isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        out = {}
        for i, v in enumerate(data):
            out |= _flatten(v, f"{prefix}{i}.")
        return out
    return {prefix.rstrip("."): data}


def _without_logging(flat: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in flat.items() if not any(k == p or k.startswith(f"{p}.") for p in LOGGING)}


def _under_leaf(key: str, flat: dict[str, Any]) -> bool:
    """Whether a proper prefix of ``key`` is a leaf of ``flat`` (the other side has no section there)."""
    parts = key.split(".")
    return any(".".join(parts[:i]) in flat for i in range(1, len(parts)))


def _default(resolved: dict[str, Any], key: str) -> Any:
    """The value ``key`` takes when the recipe leaves it out (a sentinel if it cannot be left out)."""
    data = copy.deepcopy(resolved)
    *path, last = key.split(".")
    node: Any = data
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        return _REQUIRED
    node.pop(last, None)
    try:
        again = recipe_model().model_validate(data).model_dump(mode="json")
    except ValidationError:
        return _REQUIRED
    return _flatten(again).get(key, _REQUIRED)


_REQUIRED = object()
