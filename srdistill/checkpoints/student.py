"""A student rebuilt from a checkpoint file (one written by ``srdistill train``, or any RRDB weights), the
config of a classifier's weights file, and the checks of the metadata such files carry.

``srdistill train`` and ``export`` store ``role``, ``config`` (the student's resolved config) and
``channels`` in a safetensors header. A file edited or written by other code can hold anything
there; :func:`check_student_metadata` turns each malformed field into one error naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from srdistill.checkpoints import read_metadata
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.registry import Registry
from srdistill.students.base import LearnedStudentConfig, StudentConfig, SuperResolver
from srdistill.teachers.base import TeacherConfig
from srdistill.weights import resolve_student


def classifier_config(path: Path, fallback: TeacherConfig, teachers: Registry[Any]) -> TeacherConfig:
    """The config that rebuilds the classifier in ``path``: the one its metadata records (a file written by
    ``srdistill train``), else ``fallback``'s type; either way loading every weight from ``path``."""
    meta = read_metadata(path) if path.suffix == ".safetensors" and path.is_file() else {}
    if meta.get("role") == "student":
        raise UserError(f"{path} is a student checkpoint, not a classifier.", "Give a classifier's weights file.")
    config = fallback
    if isinstance(meta.get("config"), dict):
        entry = teachers.get(str(meta["config"].get("type")))
        if entry.config is None:
            raise UserError(f"{path} names classifier '{entry.name}', which has no settings.", "Give a classifier.")
        try:
            config = entry.config.model_validate(meta["config"])  # type: ignore[assignment]
        except ValidationError as e:
            raise UserError(
                f"{path}: malformed srdistill metadata: {e.errors()[0]['msg']}",
                "Give a classifier file written by srdistill train, or remove its 'srdistill' metadata key to read it "
                "as the recipe's teacher type.",
            ) from None
    return config.with_weights(path)


def load_student_checkpoint(
    path: Path | str, info: DataInfo, fallback: StudentConfig | None, students: Registry[Any]
) -> SuperResolver:
    """The student in ``path`` (or a release name: its verified file in torch's hub cache), built
    through the ``students`` registry.

    Checkpoints written by ``srdistill train`` carry their student config; other weight files
    (an ESRGAN or BasicSR ``.pth``, say) are read as ``fallback``'s type.
    """
    path = resolve_student(path)
    if not path.is_file():
        raise UserError(
            f"Checkpoint not found: {path}",
            "Train it first (srdistill train <the recipe that writes it>), or fix the path.",
        )
    meta = read_metadata(path) if path.suffix == ".safetensors" else {}
    if meta.get("role") == "teacher":
        raise UserError(f"{path} is a teacher checkpoint, not a student.", "Give a student checkpoint.")
    config: StudentConfig
    if "config" in meta:
        entry = students.get(str(meta["config"].get("type")))
        if entry.config is None:
            raise UserError(f"{path} names student '{entry.name}', which has no settings.", "Give a trained student.")
        config = entry.config.model_validate(meta["config"])  # type: ignore[assignment]
    elif fallback is not None:
        config = fallback
    else:
        raise UserError(
            f"{path} does not say which student it holds, and the recipe has no student section.",
            "Add a student section naming its type (e.g. type: rrdb).",
        )
    if not isinstance(config, LearnedStudentConfig):
        raise UserError(f"{path}: student '{config.type}' has no weights to load.", "Give a trained student.")
    return students.build(config.model_copy(update={"weights": path}), info)


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
    elif role not in (None, "student"):  # a classifier's file (a teacher fit's, a joint fit's classifier_best)
        raise UserError(
            f"{path} holds a classifier (role: {role}), not an SR network.",
            "Give a student's weights: a run's best.safetensors (for a joint run, best.safetensors holds its SR "
            "network and classifier_best.safetensors its classifier).",
        )
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
