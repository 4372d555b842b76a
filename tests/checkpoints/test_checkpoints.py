"""Weights files: atomic writes, reads that never run code, one error for every mismatch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from srdistill.checkpoints import check_and_load, load_weights, read_metadata, read_state_dict, save_weights
from srdistill.errors import UserError


def net_with_shapes() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


class Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


# -- writing ------------------------------------------------------------------------------------------


def test_save_weights_roundtrip_with_metadata(tmp_path: Path) -> None:
    net = net_with_shapes()
    path = tmp_path / "sub" / "w.safetensors"
    meta = {"role": "student", "epoch": 3, "value": 0.25, "config": {"type": "rrdb", "num_feat": 8}}
    save_weights(net, path, meta)
    assert read_metadata(path) == meta
    assert_same_state(read_state_dict(path), net.state_dict())
    assert os.listdir(path.parent) == ["w.safetensors"]  # no temporary files left


def test_saved_checkpoint_has_ordinary_file_permissions(tmp_path: Path) -> None:
    """A checkpoint is readable like every other file of the run folder (umask applies); the
    atomic write must not leave the private 0600 mode of its temporary file on it."""
    path = tmp_path / "w.safetensors"
    save_weights(net_with_shapes(), path)
    (tmp_path / "summary.json").write_text("{}")
    mode = path.stat().st_mode & 0o777
    assert mode == (tmp_path / "summary.json").stat().st_mode & 0o777, oct(mode)


def test_save_weights_metadata_defaults_and_non_json_values(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_weights(net_with_shapes(), path)
    assert read_metadata(path) == {}
    save_weights(net_with_shapes(), path, {"where": tmp_path})
    assert read_metadata(path) == {"where": str(tmp_path)}


def test_save_weights_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_weights(nn.Linear(2, 2), path, {"n": 1})
    net = nn.Linear(2, 2)
    save_weights(net, path, {"n": 2})
    assert read_metadata(path) == {"n": 2}
    assert_same_state(read_state_dict(path), net.state_dict())
    assert os.listdir(tmp_path) == ["w.safetensors"]


def test_failed_write_keeps_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import safetensors.torch

    path = tmp_path / "w.safetensors"
    old = nn.Linear(2, 2)
    save_weights(old, path, {"n": 1})

    def crash(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        save_weights(nn.Linear(2, 2), path, {"n": 2})
    assert os.listdir(tmp_path) == ["w.safetensors"]
    assert read_metadata(path) == {"n": 1}
    assert_same_state(read_state_dict(path), old.state_dict())


def test_read_metadata_of_foreign_safetensors(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    save_file({"a": torch.zeros(2)}, str(path))
    assert read_metadata(path) == {}
    save_file({"a": torch.zeros(2)}, str(path), metadata={"other": "x"})
    assert read_metadata(path) == {}


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"a string"', "3"])
def test_malformed_metadata_is_a_clear_error(tmp_path: Path, text: str) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    save_file({"a": torch.zeros(2)}, str(path), metadata={"srdistill": text})
    with pytest.raises(UserError, match="metadata is not a JSON object") as e:
        read_metadata(path)
    assert str(path) in str(e.value)


def test_read_metadata_of_non_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    torch.save({"a": torch.zeros(2)}, path)
    with pytest.raises(UserError, match="Cannot read"):
        read_metadata(path)


# -- reading ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("wrapper", [None, "params_ema", "params", "state_dict", "model"])
@pytest.mark.parametrize("suffix", [".pth", ".pt", ".bin", ".ckpt"])
def test_read_pytorch_files(tmp_path: Path, wrapper: str | None, suffix: str) -> None:
    state = net_with_shapes().state_dict()
    path = tmp_path / f"w{suffix}"
    torch.save(state if wrapper is None else {wrapper: state, "iter": 5, "meta": {"x": 1}}, path)
    assert_same_state(read_state_dict(path), state)


def test_read_doubly_nested(tmp_path: Path) -> None:
    state = net_with_shapes().state_dict()
    path = tmp_path / "w.ckpt"
    torch.save({"state_dict": {"model": state}, "epoch": 1}, path)
    assert_same_state(read_state_dict(path), state)


def test_params_ema_wins_over_params(tmp_path: Path) -> None:
    ema = {"w": torch.ones(2)}
    path = tmp_path / "w.pth"
    torch.save({"params": {"w": torch.zeros(2)}, "params_ema": ema}, path)
    assert_same_state(read_state_dict(path), ema)


def test_module_prefix_is_stripped(tmp_path: Path) -> None:
    state = net_with_shapes().state_dict()
    path = tmp_path / "w.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    assert_same_state(read_state_dict(path), state)


def test_partial_module_prefix_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    torch.save({"module.a": torch.zeros(1), "b": torch.ones(1)}, path)
    assert set(read_state_dict(path)) == {"module.a", "b"}


def test_load_weights_into_model(tmp_path: Path) -> None:
    source, target = net_with_shapes(), nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    path = tmp_path / "w.pth"
    torch.save({"params_ema": source.state_dict()}, path)
    load_weights(target, path)
    assert_same_state(target.state_dict(), source.state_dict())
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(source.eval()(x), target.eval()(x))


def test_pickled_code_is_refused_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(2), "payload": Payload(marker)}, path)
    with pytest.raises(UserError) as info:
        read_state_dict(path, "teacher.weights")
    assert not marker.exists()
    message = str(info.value)
    assert "teacher.weights" in message and str(path) in message and "weights_only" in message

    # control: the file really does run code when unpickled without the safety net
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_pickled_model_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    torch.save(nn.Linear(2, 2), path)
    with pytest.raises(UserError, match="holds more than tensors"):
        read_state_dict(path)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_truncated_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"w{suffix}"
    save_weights(net_with_shapes(), tmp_path / "full.safetensors")
    if suffix == ".pth":
        torch.save(net_with_shapes().state_dict(), tmp_path / "full.pth")
    data = (tmp_path / f"full{suffix}").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="not a readable") as info:
        read_state_dict(path, "student.weights")
    assert str(path) in str(info.value)


def test_pth_renamed_to_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    torch.save(net_with_shapes().state_dict(), path)
    with pytest.raises(UserError, match="not a readable safetensors file"):
        read_state_dict(path)


def test_dict_without_weights(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    torch.save({"optimizer": {"lr": torch.tensor(1.0)}, "epoch": 3}, path)
    with pytest.raises(UserError, match="without weights") as info:
        read_state_dict(path)
    assert "optimizer" in str(info.value)


def test_not_a_dict(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(UserError, match="not a state dict"):
        read_state_dict(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="file not found") as info:
        read_state_dict(tmp_path / "nope.pth", "teacher.weights")
    assert "teacher.weights" in str(info.value)
    with pytest.raises(UserError, match="It is a folder"):
        read_state_dict(tmp_path)


# -- loading into a model -----------------------------------------------------------------------------


def test_check_and_load_reports_every_mismatch() -> None:
    model = nn.Linear(3, 2)
    state = {"weight": torch.zeros(4, 3), "extra": torch.zeros(1)}  # bias missing, weight wrong
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(UserError) as info:
        check_and_load(model, state, "student.weights (w.pth)")
    message = info.value.problem
    assert message.startswith("student.weights (w.pth) does not fit the Linear")
    assert "missing (1): bias" in message
    assert "unexpected (1): extra" in message
    assert "wrong shape (1): weight: file (4, 3) vs model (2, 3)" in message
    assert_same_state(model.state_dict(), before)  # nothing loaded


def test_check_and_load_truncates_long_lists() -> None:
    model = nn.Sequential(*[nn.Linear(1, 1) for _ in range(4)])  # 8 tensors
    with pytest.raises(UserError, match=r"missing \(8\): .* \(\+3 more\)"):
        check_and_load(model, {}, "x")


def test_check_and_load_loads_matching_state() -> None:
    source, target = nn.Linear(3, 2), nn.Linear(3, 2)
    check_and_load(target, source.state_dict(), "x")
    assert_same_state(target.state_dict(), source.state_dict())
