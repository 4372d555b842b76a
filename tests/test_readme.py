"""README's "Use your own data" walkthrough runs verbatim on a generated class-folder tree."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parents[1]
START, END = "## Use your own data", "\n## "
CLASSES = ("checks", "hstripes", "vstripes")
SIZES = ((80, 96), (100, 72), (72, 72), (96, 120))


def own_data_section(text: str) -> str:
    start = text.index(START)
    return text[start : text.index(END, start + len(START))]


def own_data_block(text: str) -> str:
    """The section's one bash block: the walkthrough a user pastes."""
    blocks = re.findall(r"```bash\n(.*?)```", own_data_section(text), flags=re.S)
    assert len(blocks) == 1, f"expected one bash block in {START!r}, found {len(blocks)}"
    return blocks[0]


def write_class_tree(root: Path, train: int = 20, val: int = 8, seed: int = 0) -> Path:
    """``root/{train,val}/<class>/*.jpg``: fine stripes or checks of a random colour on noise, of varied
    sizes, so the class lives in detail that bicubic downscaling blurs away."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("val", val)):
        for c, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                w, h = SIZES[(i + c) % len(SIZES)]
                yy, xx = np.mgrid[0:h, 0:w]
                period = int(rng.integers(4, 7))
                on = [(yy // period + xx // period) % 2, (yy // period) % 2, (xx // period) % 2][c]
                colour = rng.integers(60, 256, size=3)
                pixels = rng.normal(40, 15, size=(h, w, 3)) + on[..., None] * colour
                image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
                image.save(folder / f"{name}_{i}.jpg", quality=95)
    return root


def test_the_section_states_what_it_must() -> None:
    section = own_data_section((ROOT / "README.md").read_text())
    block = own_data_block((ROOT / "README.md").read_text())
    for word in ("relabel", "hr_size", "channels", "new_classifier", "source .venv/bin/activate"):
        assert word in section, word
    for recipe in re.findall(r"recipes/(\S+\.yaml)", block):
        assert (ROOT / "recipes" / recipe).is_file(), recipe
    for command in ("train", "compare", "upscale", "report"):
        assert f".venv/bin/srdistill {command} " in block, command


def test_the_fine_tune_sections_make_a_valid_teacher_recipe() -> None:
    """The section's YAML, in place of own_teacher.yaml's data, teacher and train sections, validates."""
    import yaml

    from srdistill.recipe.loading import read_yaml, validate_recipe

    snippets = re.findall(r"```yaml\n(.*?)```", own_data_section((ROOT / "README.md").read_text()), flags=re.S)
    assert len(snippets) == 1
    sections = yaml.safe_load(snippets[0])
    assert set(sections) == {"data", "teacher", "train"}
    raw = {**read_yaml(ROOT / "recipes" / "own_teacher.yaml"), **sections}
    recipe = validate_recipe(raw, "README")
    assert recipe.teacher.new_classifier and recipe.train.fit == "teacher" and recipe.train.trainable == "head"
    assert recipe.data.relabel is not None and len(recipe.data.relabel.names) == 2


@pytest.mark.slow
def test_the_own_data_walkthrough_verbatim(tmp_path: Path) -> None:
    """The block, as written, in a folder holding only recipes/ and .venv/bin/srdistill, on generated data."""
    block = own_data_block((ROOT / "README.md").read_text())
    data = write_class_tree(tmp_path / "my-images")
    work = tmp_path / "work"
    shutil.copytree(ROOT / "recipes", work / "recipes")
    bin_dir = work / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    # .venv/bin/srdistill is this Python's srdistill, from this checkout
    (bin_dir / "srdistill").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m srdistill "$@"\n')
    (bin_dir / "srdistill").chmod(0o755)
    env = {
        **os.environ,
        "DATA": str(data),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }

    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"

    runs = work / "runs"
    for run in ("own_teacher", "own_pixel", "own_darionet"):
        assert (runs / run / "summary.json").is_file(), run
        assert (runs / run / "best.safetensors").is_file(), run
    table = json.loads((runs / "own_darionet" / "compare.json").read_text())
    text = json.dumps(table)
    for method in ("original", "bicubic", "own_pixel", "own_darionet"):
        assert method in text, method
    inputs = sorted(p.relative_to(data / "val") for p in (data / "val").rglob("*.jpg"))
    outputs = sorted(p.relative_to(work / "upscaled") for p in (work / "upscaled").rglob("*.jpg"))
    assert outputs == inputs
    from PIL import Image

    first = inputs[0]
    with Image.open(data / "val" / first) as lr, Image.open(work / "upscaled" / first) as sr:
        assert sr.size == (lr.width * 4, lr.height * 4) and sr.mode == "RGB"
    assert (runs / "own_darionet" / "report" / "report.html").is_file()
