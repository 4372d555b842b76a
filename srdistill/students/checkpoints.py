"""A student rebuilt from a checkpoint file: one written by ``srdistill train``, or any RRDB weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from srdistill.checkpoints import read_metadata
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.registry import Registry
from srdistill.students.base import LearnedStudentConfig, StudentConfig, SuperResolver
from srdistill.weights import resolve_student


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
