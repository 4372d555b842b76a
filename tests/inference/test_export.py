"""srdistill export: safetensors with the config, ONNX with a parity check against PyTorch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srdistill.checkpoints import read_metadata, read_state_dict, save_weights
from srdistill.compat.basicsr import rrdbnet_class

pytest.importorskip("onnxruntime")


@pytest.fixture
def checkpoint(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    net = rrdbnet_class()(1, 1, scale=4, num_feat=8, num_block=1, num_grow_ch=4)
    path = tmp_path / "best.safetensors"
    config = {
        "type": "rrdb",
        "num_feat": 8,
        "num_block": 1,
        "num_grow_ch": 4,
        "scale": 4,
        "weights": None,
        "resize": "bicubic",
    }
    save_weights(net, path, {"role": "student", "config": config, "channels": 1})
    return path, net


def test_export_writes_both_and_checks_parity(cli, tmp_path: Path, checkpoint) -> None:
    path, net = checkpoint
    result = cli("export", path, tmp_path / "out" / "student")
    assert result.exit_code == 0, result.output
    assert "parity: ONNX Runtime vs PyTorch" in result.output and "ok" in result.output
    weights = tmp_path / "out" / "student.safetensors"
    meta = read_metadata(weights)
    assert meta["config"]["num_feat"] == 8 and meta["channels"] == 1
    state = read_state_dict(weights)
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())

    import onnxruntime as ort

    session = ort.InferenceSession(str(tmp_path / "out" / "student.onnx"), providers=["CPUExecutionProvider"])
    x = torch.rand(3, 1, 13, 21)
    got = torch.from_numpy(session.run(None, {"lr": x.numpy()})[0])
    with torch.no_grad():
        assert torch.allclose(got, net.eval()(x), atol=1e-4)  # any batch and size


def test_export_without_onnx(cli, tmp_path: Path, checkpoint) -> None:
    path, _ = checkpoint
    result = cli("export", path, tmp_path / "s", "--no-onnx")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s.safetensors").is_file() and not (tmp_path / "s.onnx").exists()


def test_onnx_is_one_self_contained_file(cli, tmp_path: Path, checkpoint) -> None:
    import onnxruntime as ort

    path, net = checkpoint
    result = cli("export", path, tmp_path / "out" / "student")
    assert result.exit_code == 0, result.output
    assert "self-contained" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["student.onnx", "student.safetensors"]
    alone = tmp_path / "elsewhere" / "copy.onnx"  # copied without anything beside it
    alone.parent.mkdir()
    alone.write_bytes((tmp_path / "out" / "student.onnx").read_bytes())
    session = ort.InferenceSession(str(alone), providers=["CPUExecutionProvider"])
    x = torch.rand(1, 1, 9, 11)
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(session.run(None, {"lr": x.numpy()})[0]), net.eval()(x), atol=1e-4)


def test_models_over_the_limit_keep_weights_beside_and_say_so(
    cli, tmp_path: Path, checkpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    import srdistill.inference.export as export_module

    monkeypatch.setattr(export_module, "ONNX_INLINE_LIMIT", 0)
    path, _ = checkpoint
    result = cli("export", path, tmp_path / "big")
    assert result.exit_code == 0, result.output
    assert "must stay beside big.onnx" in result.output and "parity" in result.output
    assert (tmp_path / "big.onnx.data").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_export_never_overwrites_without_asking(cli, tmp_path: Path, checkpoint, flatten) -> None:
    path, _ = checkpoint
    result = cli("export", path, path.with_suffix(""), "--no-onnx")
    assert result.exit_code == 1 and "would overwrite the checkpoint" in flatten(result.stderr)
    assert cli("export", path, tmp_path / "s", "--no-onnx").exit_code == 0
    before = (tmp_path / "s.safetensors").read_bytes()
    result = cli("export", path, tmp_path / "s", "--no-onnx")
    assert result.exit_code == 1 and "--overwrite" in flatten(result.stderr)
    assert (tmp_path / "s.safetensors").read_bytes() == before
    assert cli("export", path, tmp_path / "s", "--no-onnx", "--overwrite").exit_code == 0


def _student(tmp_path: Path, grow: int, residual: bool = False) -> Path:
    torch.manual_seed(0)
    net = rrdbnet_class()(1, 1, scale=4, num_feat=8, num_block=1, num_grow_ch=grow)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    path = tmp_path / f"g{grow}_{residual}.safetensors"
    config = {
        "type": "rrdb",
        "num_feat": 8,
        "num_block": 1,
        "num_grow_ch": grow,
        "scale": 4,
        "weights": None,
        "resize": "bicubic",
        "residual": residual,
    }
    save_weights(net, path, {"role": "student", "config": config, "channels": 1})
    return path


def test_what_spandrel_cannot_load_or_computes_otherwise_is_said(cli, tmp_path: Path, flatten) -> None:
    """chaiNNer and ComfyUI read exports through spandrel: growth 32 loads as it is; another growth cannot load,
    and a residual student's bicubic base is unknown to it. Each export says so."""
    plain = cli("export", _student(tmp_path, 32), tmp_path / "a", "--no-onnx")
    assert plain.exit_code == 0 and "warning" not in plain.output, plain.output
    narrow = cli("export", _student(tmp_path, 4), tmp_path / "b", "--no-onnx")
    assert narrow.exit_code == 0 and "spandrel (chaiNNer, ComfyUI) cannot load b.safetensors" in flatten(narrow.output)
    assert "grows by 4" in flatten(narrow.output)
    residual = cli("export", _student(tmp_path, 32, residual=True), tmp_path / "c", "--no-onnx")
    assert residual.exit_code == 0 and "computes another image" in flatten(residual.output)
    assert "residual student adds a bicubic upscale" in flatten(residual.output)


def test_the_onnx_of_a_residual_student_includes_its_bicubic_base(cli, tmp_path: Path) -> None:
    import onnxruntime as ort

    from srdistill.inference.student import load_student

    path = _student(tmp_path, 32, residual=True)
    result = cli("export", path, tmp_path / "r")
    assert result.exit_code == 0, result.output
    student, _ = load_student(path)
    session = ort.InferenceSession(str(tmp_path / "r.onnx"), providers=["CPUExecutionProvider"])
    x = torch.rand(2, 1, 13, 21)
    with torch.no_grad():
        want = student.eval().upscale(x)
    got = torch.from_numpy(session.run(None, {"lr": x.numpy()})[0])
    assert torch.allclose(got, want, atol=1e-4) and not torch.allclose(got, student.net(x), atol=1e-2)
