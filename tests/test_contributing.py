"""CONTRIBUTING.md's plugin walkthrough works when pasted block by block into a fresh clone."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
START, END = "## Add your own teacher as a plugin", "## Add a built-in component"


def walkthrough_blocks(text: str) -> list[str]:
    section = text[text.index(START) : text.index(END)]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


def test_the_walkthrough_has_its_steps() -> None:
    blocks = walkthrough_blocks((ROOT / "CONTRIBUTING.md").read_text())
    assert len(blocks) == 6
    assert "pip install -e plugins/my-teacher" in blocks[2]
    assert "srdistill train plugins/my-teacher/distill.yaml" in blocks[3]


@pytest.mark.slow
def test_the_walkthrough_verbatim_in_a_fresh_clone(tmp_path: Path) -> None:
    """Clones the committed repository, then runs every block of the walkthrough in order."""
    if not Path("/usr/share/datasets/fashion-mnist").is_dir():
        pytest.skip("needs Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    for i, block in enumerate(walkthrough_blocks((clone / "CONTRIBUTING.md").read_text())):
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=clone, capture_output=True, text=True)
        assert done.returncode == 0, f"block {i + 1} failed:\n{block}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert (clone / "runs" / "my_prob_mse" / "summary.json").is_file()
