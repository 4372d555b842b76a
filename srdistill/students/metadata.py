"""Checking the metadata a student checkpoint carries before anything is built from it.

``srdistill train`` and ``export`` store ``role``, ``config`` (the student's resolved config) and
``channels`` in a safetensors header. A file edited or written by other code can hold anything
there; this turns each malformed field into one error that names the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from srdistill.checkpoints import read_metadata
from srdistill.errors import UserError

FIX = (
    "Re-export the student from its run (srdistill export runs/<name>/best.safetensors OUT), "
    "or remove the 'srdistill' metadata key to load the file as plain RRDB weights."
)


def check_student_metadata(path: Path) -> dict[str, Any]:
    """``path``'s srdistill metadata, every field a student loader reads checked; ``{}`` for other files."""
    if path.suffix != ".safetensors" or not path.is_file():
        return {}  # the loader reports a missing file
    meta = read_metadata(path)
    problems: list[str] = []
    role = meta.get("role")
    if role is not None and not isinstance(role, str):
        problems.append(f"role: expected a string, got {role!r}")
    channels = meta.get("channels")
    if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int) or channels < 1):
        problems.append(f"channels: expected a positive whole number, got {channels!r}")
    if "config" in meta:
        problems += _config_problems(meta["config"])
    if problems:
        lines = "\n".join(f"  • {p}" for p in problems)
        raise UserError(f"{path}: malformed srdistill metadata:\n{lines}", FIX)
    return meta


def _config_problems(config: Any) -> list[str]:
    from srdistill.catalog import catalog

    if not isinstance(config, dict):
        return [f"config: expected a mapping with a 'type', got {config!r:.60}"]
    kind = config.get("type")
    students = catalog().students
    if not isinstance(kind, str) or kind not in students:
        return [f"config.type: {kind!r} is not a student type (known: {', '.join(students.names())})"]
    model = students.get(kind).config
    if model is None:
        return []
    try:
        model.model_validate(config)
    except ValidationError as e:
        return [f"config.{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
    return []
