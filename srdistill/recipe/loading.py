"""Reading a recipe file, applying ``--set`` overrides, and reporting every error at once."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from srdistill.catalog import catalog
from srdistill.errors import UserError
from srdistill.recipe.judge_specs import add_judges
from srdistill.recipe.schema import COMPONENT_SECTIONS, Recipe, recipe_model
from srdistill.recipe.train import FITS, fit_models
from srdistill.recipe.unique_keys import DUPLICATE, parse_yaml
from srdistill.registry import did_you_mean

RECIPE_FIX = "Fix the keys above; `srdistill list` shows component names and recipes/ has complete examples."


class RecipeError(UserError):
    """A recipe that cannot be used; ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: list[str], fix: str = RECIPE_FIX) -> None:
        n = len(problems)
        head = f"{source}: {n} problem{'s' if n != 1 else ''}"
        super().__init__(head + "\n" + "\n".join(f"  • {p}" for p in problems), fix)
        self.problems = problems


def load_recipe(path: Path | str, overrides: Sequence[str] = (), judges: Sequence[str] = ()) -> Recipe:
    """Read, override and validate the recipe at ``path``; ``judges`` are ``--judge`` specs added to compare."""
    path = Path(path)
    raw = read_yaml(path)
    apply_overrides(raw, overrides, str(path))
    add_judges(raw, judges, str(path))
    return validate_recipe(raw, str(path))


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"Recipe not found: {path}", "Check the path; the shipped recipes are in recipes/.")
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        fix = "Keep one of the two (merge them)." if DUPLICATE in problem else "Fix the YAML syntax there."
        raise UserError(f"{path} is not valid YAML{where}: {problem}", fix) from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text file.", "Point to a YAML recipe.") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a mapping of sections (name:, data:, teacher:, …).", RECIPE_FIX)
    return data


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str], source: str) -> None:
    """Apply ``key.path=value`` overrides in place.

    Values are parsed as YAML: ``3``, ``null``, ``[1, 2]``, ``{name: x, path: y}``.
    """
    problems = []
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"--set {item!r}: expected KEY.PATH=VALUE, e.g. train.epochs=3")
            continue
        try:
            value = parse_yaml(text) if text.strip() else None
        except yaml.constructor.ConstructorError as e:
            problems.append(f"--set {key}: {e.problem}")
            continue
        except yaml.YAMLError:
            value = text
        parts = key.strip().split(".")
        node: Any = raw
        try:
            for part in parts[:-1]:
                node = _child(node, part, create=not isinstance(node, list))
            _assign(node, parts[-1], value)
        except (KeyError, IndexError, TypeError) as e:
            problems.append(f"--set {key}: {e.args[0] if e.args else e}")
    if problems:
        raise RecipeError(f"{source} (overrides)", problems, "Use --set SECTION.KEY=VALUE with keys of the recipe.")


def _child(node: Any, part: str, create: bool) -> Any:
    if isinstance(node, list):
        return node[_index(node, part)]
    if not isinstance(node, dict):
        raise TypeError(f"'{part}' is under a value that is not a section")
    if part not in node or node[part] is None:
        node[part] = {}
    return node[part]


def _assign(node: Any, part: str, value: Any) -> None:
    if isinstance(node, list):
        node[_index(node, part)] = value
    elif isinstance(node, dict):
        node[part] = value
    else:
        raise TypeError(f"'{part}' is under a value that is not a section")


def _index(node: list[Any], part: str) -> int:
    if not part.lstrip("-").isdigit():
        raise KeyError(f"'{part}' must be a list index (0..{len(node) - 1})")
    i = int(part)
    if not -len(node) <= i < len(node):
        raise IndexError(f"index {i} is out of range (the list has {len(node)} items)")
    return i


def validate_recipe(raw: dict[str, Any], source: str = "recipe") -> Recipe:
    """Validate ``raw`` against the recipe schema; all problems are raised together."""
    model = recipe_model()
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise RecipeError(source, [describe_error(err, raw, model) for err in e.errors()]) from None


# -- error messages ---------------------------------------------------------------------------------------


def describe_error(err: Any, raw: dict[str, Any], model: type[BaseModel]) -> str:
    """One line for one pydantic error: a clean dotted path, then a message with a suggestion."""
    path, parent_model = _walk(err["loc"], raw, model)
    where = ".".join(str(p) for p in path) or "(top level)"
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    section = str(path[0]) if path else ""

    if section == "train" and kind == "union_tag_invalid":
        return f"train.fit: unknown fit '{ctx.get('tag', value)}'; one of: {', '.join(FITS)}"
    if kind in ("union_tag_invalid", "union_tag_not_found") or (
        kind == "literal_error" and path and path[-1] == "type"
    ):
        # the innermost component section: compare.judges.0.teacher.type is a teacher's type
        inner = next((str(p) for p in reversed(path) if str(p) in COMPONENT_SECTIONS), section)
        registry = catalog().registries()[COMPONENT_SECTIONS.get(inner, "datasets")]
        known = registry.names()
        if kind == "union_tag_not_found":
            return f"{where}: missing 'type'; one of: {', '.join(known)}"
        tag = ctx.get("tag", value)
        suggestion = did_you_mean(str(tag), known)
        failed = [p for p in catalog().problems if "failed to load" in p]
        hint = f" It may come from a plugin that failed to load: {'; '.join(failed)}" if failed else ""
        return f"{where}: unknown {registry.kind} '{tag}'.{suggestion} Known: {', '.join(known)}.{hint}"
    if kind == "extra_forbidden":
        name = str(path[-1])
        if section == "train" and len(path) == 2 and parent_model is not None:
            models = fit_models()
            fits = [fit for fit, m in models.items() if name in m.model_fields]
            mode = next((fit for fit, m in models.items() if m is parent_model), None)
            if fits and mode is not None:
                return f"{where}: applies to fit: {' or '.join(fits)} only (this train section has fit: {mode})"
        allowed = sorted(parent_model.model_fields) if parent_model is not None else []
        hint = did_you_mean(name, allowed)
        listing = f" Allowed here: {', '.join(allowed)}" if allowed else ""
        return f"{where}: unknown key.{hint}{listing}"
    if kind == "missing":
        return f"{where}: required but missing"
    msg = err["msg"]
    if kind.startswith("value_error"):
        msg = msg.removeprefix("Value error, ")
    shown = "" if isinstance(value, (dict, list)) or kind in ("model_attributes_type",) else f" (got {value!r})"
    return f"{where}: {msg}{shown}"


def _walk(loc: tuple[Any, ...], raw: Any, model: type[BaseModel]) -> tuple[list[Any], type[BaseModel] | None]:
    """Follow ``loc`` through data and schema, dropping the union tags pydantic puts in error paths.

    Returns the cleaned path and the model class that holds its last key.
    """
    path: list[Any] = []
    data: Any = raw
    annotation: Any = model
    holder: type[BaseModel] | None = None
    tag_seen = False  # pydantic puts a union's tag once, right after the union's own key
    for part in loc:
        if isinstance(part, str) and part.startswith(("function-", "tagged-union[")):
            continue
        union = len([m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]) > 1
        if union and not tag_seen and isinstance(data, dict) and isinstance(part, str) and part in _tags(data):
            tag_seen = True  # the tag, even where a key of the same name follows (train.joint under fit: joint)
            continue
        tag_seen = False
        path.append(part)
        holder = _model_of(annotation, data)
        if holder is not None and isinstance(part, str):
            field = holder.model_fields.get(part)
            annotation = field.annotation if field is not None else None
        elif isinstance(part, int):
            annotation = _item_of(annotation)
        else:
            annotation = None
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and -len(data) <= part < len(data):
            data = data[part]
        else:
            data = None
    return path, holder


def _members(annotation: Any) -> list[Any]:
    """``annotation`` without Annotated/Optional wrappers, as a list of union members."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for a in typing.get_args(annotation) if a is not type(None) for m in _members(a)]
    return [annotation]


def _model_of(annotation: Any, data: Any) -> type[BaseModel] | None:
    """The model class ``annotation`` stands for; a union member is picked by the data's ``type``."""
    models = [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]
    if len(models) == 1:
        return models[0]
    tags = _tags(data) if isinstance(data, dict) else ()
    for m in models:
        for key, tag in zip(("type", "fit"), tags, strict=True):
            field = m.model_fields.get(key)
            if field is not None and tag in typing.get_args(field.annotation):
                return m
    return None


def _tags(data: dict[str, Any]) -> tuple[Any, Any]:
    """The values that pick a union member: a component's ``type``, the train section's ``fit``."""
    return data.get("type"), data.get("fit", "student")


def _item_of(annotation: Any) -> Any:
    for m in _members(annotation):
        if typing.get_origin(m) in (list, tuple):
            args = typing.get_args(m)
            return args[0] if args else None
    return None
