"""A trained student rebuilt from its checkpoint alone (no recipe, no data set)."""

from __future__ import annotations

from pathlib import Path

from srdistill.catalog import catalog
from srdistill.checkpoints import read_state_dict
from srdistill.checkpoints.student import check_student_metadata, load_student_checkpoint
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.students.base import SuperResolver
from srdistill.students.rrdb import RRDBConfig


def load_student(path: Path) -> tuple[SuperResolver, int]:
    """The student in ``path`` and its image channels.

    Checkpoints written by ``srdistill train`` say everything; any other file is read as an RRDB
    network (ESRGAN, BasicSR, Real-ESRGAN), its channels and sizes inferred from the weights.
    """
    if not path.is_file():
        raise UserError(
            f"Checkpoint not found: {path}", "Point to a student checkpoint, e.g. runs/<name>/best.safetensors."
        )
    meta = check_student_metadata(path)
    channels = meta.get("channels")
    if channels is None:
        from srdistill.students.rrdb_layouts import infer_arch, to_basicsr

        source = f"checkpoint ({path})"
        channels = infer_arch(to_basicsr(read_state_dict(path, "checkpoint"), source), source).num_in_ch
    info = DataInfo(channels=int(channels), num_classes=0, hr_size=(0, 0), class_names=())
    return load_student_checkpoint(path, info, RRDBConfig(type="rrdb"), catalog().students), int(channels)
