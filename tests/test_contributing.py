"""CONTRIBUTING.md's plugin walkthrough works when pasted block by block into a fresh clone."""

from __future__ import annotations

import re
import subprocess
import sys
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
    assert "pip install -e ../my-teacher" in blocks[2]  # the package lives outside the clone
    assert "srdistill train ../my-teacher/distill.yaml" in blocks[3]
    assert "weights: runs/my_pixel/best.safetensors" in blocks[3]  # distillation starts from the pixel student


def heredocs(blocks: list[str]) -> list[tuple[str, str]]:
    """``(path, text)`` of every file a block writes with ``cat > path <<'TAG'``, in order."""
    found = []
    for block in blocks:
        found += re.findall(r"cat > (\S+) <<'(\w+)'\n(.*?)\n\2\n", block, flags=re.S)
    return [(path, text + "\n") for path, _, text in found]


def test_the_walkthrough_python_is_ruff_clean(tmp_path: Path) -> None:
    """Each version of each Python file, checked with the plugin's own ruff settings (lint and format)."""
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.is_file():
        pytest.skip("ruff is not installed beside this Python")
    files = heredocs(walkthrough_blocks((ROOT / "CONTRIBUTING.md").read_text()))
    config = next(text for path, text in files if path.endswith("pyproject.toml"))
    snippets = [(path, text) for path, text in files if path.endswith(".py")]
    assert len(snippets) == 5
    for i, (path, text) in enumerate(snippets):
        folder = tmp_path / str(i)
        target = folder / Path(path).relative_to("../my-teacher")
        target.parent.mkdir(parents=True)
        (folder / "pyproject.toml").write_text(config)
        target.write_text(text)
        for args in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
            done = subprocess.run([str(ruff), *args, str(folder)], capture_output=True, text=True, cwd=folder)
            assert done.returncode == 0, f"{path}:\n{done.stdout}{done.stderr}"


def test_the_walkthrough_plugin_registers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin as the walkthrough leaves it, imported and registered into fresh registries."""
    from srdistill.catalog import builtins
    from srdistill.plugins import Registrar

    for path, text in heredocs(walkthrough_blocks((ROOT / "CONTRIBUTING.md").read_text())):
        target = tmp_path / Path(path).relative_to("..")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)  # a later version of a file replaces the earlier one, as in the walkthrough
    monkeypatch.syspath_prepend(str(tmp_path / "my-teacher" / "src"))
    for name in [m for m in sys.modules if m == "my_teacher" or m.startswith("my_teacher.")]:
        monkeypatch.delitem(sys.modules, name)
    import my_teacher

    cat, clashes = builtins(), []
    my_teacher.register(Registrar(cat, "my-teacher", clashes))
    assert clashes == []
    assert cat.teachers.get("tiny_cnn").source == "my-teacher"
    assert cat.losses.get("prob_mse").source == "my-teacher"
    for name in [m for m in sys.modules if m == "my_teacher" or m.startswith("my_teacher.")]:
        del sys.modules[name]


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
