"""srdistill report: the PNGs and the self-contained page exist and are valid."""

from __future__ import annotations

import base64
import re
from pathlib import Path

PNG = b"\x89PNG\r\n\x1a\n"


def named_release(caches: dict[str, Path], monkeypatch) -> str:
    """A grey RRDB release 'TinyRRDB_x4' already in the temp torch hub cache of ``weight_caches``."""
    import hashlib

    import torch

    import srdistill.weights as weights
    from srdistill.compat.basicsr import rrdbnet_class

    cached = caches["torch"] / "TinyRRDB_x4.pth"
    cached.parent.mkdir(parents=True)
    torch.save(rrdbnet_class()(1, 1, scale=4, num_feat=8, num_block=1, num_grow_ch=4).state_dict(), cached)
    digest = hashlib.sha256(cached.read_bytes()).hexdigest()
    release = weights.Release("TinyRRDB_x4", "https://example.org/TinyRRDB_x4.pth", digest, "test")
    monkeypatch.setitem(weights.RELEASES, release.name, release)
    return release.name


def test_report_after_a_run(cli, write_recipe, tmp_path: Path, monkeypatch, weight_caches) -> None:
    recipe = write_recipe(train={"epochs": 2, "batch_size": 16, "max_steps_per_epoch": 2, "val_batch_size": 64,
                                 "optimizer": {"name": "adam", "lr": 1e-3}})  # fmt: skip
    assert cli("train", recipe).exit_code == 0
    best = tmp_path / "runs" / "tiny" / "best.safetensors"
    release = named_release(weight_caches, monkeypatch)  # a compare row may name a release: it has no run folder
    rows = f"compare.checkpoints=[{{name: released, path: {release}}}, {{name: tiny_student, path: {best}}}]"
    result = cli("report", recipe, "--set", rows)
    assert result.exit_code == 0, result.output
    out = tmp_path / "runs" / "tiny" / "report"
    page = (out / "report.html").read_text()
    lost = "No class has a lower top-1" not in page
    gained = "No class has a higher top-1" not in page
    names = ["training_curves", "class_change", "hardest_classes"]
    names += ["losses_gains"] * (lost or gained) + ["reconstructions_worst"] * lost + ["reconstructions_best"] * gained
    for name in names:
        assert (out / f"{name}.png").read_bytes().startswith(PNG), name
    assert len(list(out.glob("*.png"))) == len(names)  # a figure only for classes that changed
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == len(names)  # self-contained: every figure inside the page
    assert all(base64.b64decode(b).startswith(PNG) for b in embedded)
    assert "tiny_student" in page and "Largest gains of tiny_student" in page


def test_report_from_a_run_folder_and_errors(cli, write_recipe, tmp_path: Path, flatten) -> None:
    recipe = write_recipe()
    assert cli("train", recipe).exit_code == 0
    run = tmp_path / "runs" / "tiny"
    result = cli("report", run, "--out", tmp_path / "rep", "--method", "bicubic")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rep" / "report.html").is_file()
    result = cli("report", tmp_path, "--out", tmp_path / "x")
    assert result.exit_code == 1 and "not a run folder" in flatten(result.stderr)
    result = cli("report", run, "--method", "nope")
    assert result.exit_code == 1 and "No method 'nope'" in flatten(result.stderr)
