"""EMA of the trained weights: what it averages, that validation and checkpoints use it, exact resume."""

from __future__ import annotations

import signal
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file

from srdistill.engine.ema import Ema
from srdistill.recipe.train import EmaConfig


def test_the_average_follows_timms_rule_and_is_applied_only_inside_the_block() -> None:
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    ema = Ema(net, EmaConfig(decay=0.9))
    ema.update(net, step=1)  # timm: the first step copies the weights
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net, step=2)
    expected = 0.9 * start["weight"] + 0.1 * net.weight
    torch.testing.assert_close(ema.state_dict()["weight"], expected)
    raw = net.weight.detach().clone()
    with ema.applied(net):
        torch.testing.assert_close(net.weight.detach(), expected)
    assert torch.equal(net.weight, raw)  # the trained weights are back, exactly


def test_the_state_round_trips(tmp_path: Path) -> None:
    net = torch.nn.Linear(3, 2)
    ema = Ema(net, EmaConfig())
    torch.save(ema.state_dict(), tmp_path / "ema.pt")
    again = Ema(torch.nn.Linear(3, 2), EmaConfig())
    again.load_state_dict(torch.load(tmp_path / "ema.pt", weights_only=True))
    assert all(torch.equal(a, b) for a, b in zip(ema.state_dict().values(), again.state_dict().values(), strict=True))


def trained(cli, make_recipe, folder: Path, ema: dict | None, steps: int = 3) -> dict[str, torch.Tensor]:
    """``last.safetensors`` of a one-epoch run of ``steps`` steps (constant learning rate)."""
    folder.mkdir(parents=True)
    recipe = make_recipe(folder, run={"dir": str(folder / "run")})
    recipe["train"] |= {"epochs": 1, "max_steps_per_epoch": steps, "scheduler": {"name": "none"}}
    if ema is not None:
        recipe["train"]["ema"] = ema
    path = folder / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    result = cli("train", path)
    assert result.exit_code == 0, result.output
    return load_file(str(folder / "run" / "last.safetensors"))


def test_checkpoints_hold_the_average(cli, make_recipe, tmp_path: Path) -> None:
    """decay → 0: the average is the trained weights; decay → 1: it stays where timm's average starts,
    the weights after the first step."""
    plain = trained(cli, make_recipe, tmp_path / "plain", None)
    one_step = trained(cli, make_recipe, tmp_path / "one_step", None, steps=1)
    follows = trained(cli, make_recipe, tmp_path / "follows", {"decay": 1e-6})
    stays = trained(cli, make_recipe, tmp_path / "stays", {"decay": 0.999999})
    assert any(not torch.equal(plain[k], one_step[k]) for k in plain), "training changed nothing"
    for k in plain:
        torch.testing.assert_close(follows[k], plain[k], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(stays[k], one_step[k], atol=1e-5, rtol=1e-4)
    # the raw weights are kept beside the average: the same as training without one, bit for bit
    raw = load_file(str(tmp_path / "stays" / "run" / "last_raw.safetensors"))
    assert raw.keys() == plain.keys() and all(torch.equal(raw[k], plain[k]) for k in plain)
    assert not (tmp_path / "plain" / "run" / "last_raw.safetensors").exists()


def test_killed_with_ema_resumes_bit_identically(make_recipe, tmp_path: Path) -> None:
    from tests.engine.test_resume import finish, resumable_recipe, run_until, srdistill

    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    for folder in (reference_dir, killed_dir):
        folder.mkdir()
    ema = {"ema": {"decay": 0.9, "warmup": True}}
    code, out = finish(srdistill("train", str(resumable_recipe(make_recipe, reference_dir, **ema))))
    assert code == 0, out
    recipe = resumable_recipe(make_recipe, killed_dir, **ema)
    proc = srdistill("train", str(recipe))
    run_until(proc, 2, 2)  # epoch 2: the average has a past worth keeping
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    code, out = finish(srdistill("train", str(recipe)))
    assert code == 0 and "resuming" in out, out
    reference, resumed = (
        load_file(str(reference_dir / "run" / "last.safetensors")),
        load_file(str(killed_dir / "run" / "last.safetensors")),
    )
    assert all(torch.equal(reference[k], resumed[k]) for k in reference)
