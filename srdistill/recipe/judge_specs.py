"""``--judge NAME=TEACHER_SPEC``: a judge added to ``compare.judges`` from the command line.

``TEACHER_SPEC`` is the judge's teacher section: a YAML mapping, as a ``--set`` value is, e.g.
``--judge 'r18={type: timm, model: resnet18, weights: weights/resnet18.safetensors}'``, or the
path of a YAML file holding that mapping (``--judge r18=judges/r18.yaml``). A ``label_map`` key in
it goes to the judge rather than to its teacher.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from srdistill.errors import UserError
from srdistill.recipe.unique_keys import parse_yaml  # a key given twice is an error here too

EXAMPLE = "--judge 'r18={type: timm, model: resnet18, weights: resnet18.safetensors}' (or r18=r18.yaml)"


def add_judges(raw: dict[str, Any], specs: Iterable[str], source: str) -> None:
    """Append a ``compare.judges`` entry to ``raw`` for each ``NAME=TEACHER_SPEC`` in ``specs``."""

    problems, added = [], []
    for spec in specs:
        name, sep, text = spec.partition("=")
        try:
            teacher = parse_yaml(text) if sep else None
            if isinstance(teacher, str) and teacher.endswith((".yaml", ".yml")):  # a file holding the mapping
                file = Path(teacher)
                if not file.is_file():
                    problems.append(f"--judge {spec!r}: {file} is not a file")
                    continue
                teacher = parse_yaml(file.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            teacher = None
        if not name.strip() or not isinstance(teacher, dict):
            problems.append(f"--judge {spec!r}: expected NAME={{type: …, …}} or NAME=FILE.yaml holding that mapping")
            continue
        judge: dict[str, Any] = {"name": name.strip(), "teacher": teacher}
        if "label_map" in teacher:
            judge["label_map"] = teacher.pop("label_map")
        added.append(judge)
    if problems:
        raise UserError(f"{source}: " + "; ".join(problems), f"Write each judge as {EXAMPLE}.")
    if added:
        compare = raw.get("compare") or {}
        if not isinstance(compare, dict):
            raise UserError(f"{source}: compare is not a section, so --judge cannot add to it.", "Fix the recipe.")
        compare["judges"] = [*(compare.get("judges") or []), *added]
        raw["compare"] = compare
