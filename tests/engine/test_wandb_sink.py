"""W&B logging in offline mode: the run's own .wandb file holds the scalars, grids and recipe."""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("wandb")

OFFLINE = "{project: srdistill-test, mode: offline, tags: [unit]}"


@pytest.fixture
def wandb_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "wandb_dir"
    folder.mkdir()
    monkeypatch.setenv("WANDB_DIR", str(folder))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    return folder


def records(path: Path) -> Iterator[Any]:
    """The protobuf records of a .wandb file: a LevelDB-style log (7-byte file header, 32 KiB blocks,
    each chunk with a 7-byte header: crc32, length, type 1 full / 2 first / 3 middle / 4 last)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def values(items: Any) -> dict[str, Any]:
    return {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in items}


def logged(wandb_dir: Path) -> tuple[list[dict[str, Any]], dict[str, Any], Any]:
    """History rows, config and run record of the one offline run under ``wandb_dir``."""
    (file,) = wandb_dir.glob("wandb/offline-run-*/run-*.wandb")
    rows, config, run = [], {}, None
    for record in records(file):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            rows.append(values(record.history.item))
        elif kind == "run":
            run = record.run
            config |= values(record.run.config.update)
        elif kind == "config":
            config |= values(record.config.update)
    return rows, config, run


def test_offline_run_holds_the_logged_scalars(cli, write_recipe, tmp_path: Path, wandb_dir: Path) -> None:
    recipe = write_recipe(train={"epochs": 2, "batch_size": 16, "max_steps_per_epoch": 2, "log_every": 1,
                                 "tensorboard": False, "optimizer": {"name": "adam", "lr": 1e-3}})  # fmt: skip
    result = cli("train", recipe, "--set", f"wandb={OFFLINE}")
    assert result.exit_code == 0, result.output
    rows, config, run = logged(wandb_dir)
    losses = [(r["global_step"], r["train/loss"]) for r in rows if "train/loss" in r]
    assert [step for step, _ in losses] == [1, 2, 3, 4]
    epochs = [r for r in rows if "epoch/val_ce_gap" in r]
    assert [r["global_step"] for r in epochs] == [2, 4]
    # the same numbers as metrics.csv
    csv_rows = (tmp_path / "runs" / "tiny" / "metrics.csv").read_text().splitlines()
    header = csv_rows[0].split(",")
    last = dict(zip(header, csv_rows[-1].split(","), strict=True))
    assert epochs[-1]["epoch/val_ce_gap"] == pytest.approx(float(last["val_ce_gap"]), rel=1e-4)
    assert any(r.get("reconstructions/_type") == "image-file" for r in rows)
    assert run is not None and run.display_name == "tiny" and run.project == "srdistill-test"
    assert list(run.tags) == ["unit"]
    assert config["name"] == "tiny" and config["wandb"]["project"] == "srdistill-test"
    assert (tmp_path / "runs" / "tiny" / "wandb_id.txt").read_text().strip() == run.run_id


def test_missing_wandb_is_a_one_screen_error(cli, write_recipe, monkeypatch: pytest.MonkeyPatch, flatten) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb raises ImportError
    result = cli("train", write_recipe(), "--set", f"wandb={OFFLINE}")
    assert result.exit_code == 1
    text = flatten(result.output)
    assert "wandb package is not installed" in text and "Fix: pip install wandb" in text
    assert "Traceback" not in result.output


def test_a_run_folder_keeps_its_wandb_id(tmp_path: Path) -> None:
    from srdistill.engine.wandb_sink import _run_id

    first = _run_id(tmp_path)
    assert first == _run_id(tmp_path) and len(first) == 8
    assert _run_id(tmp_path / "other") != first


@pytest.fixture
def no_wandb_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No API key anywhere wandb looks (environment, ~/.netrc, its settings), and no server to reach;
    wandb's process-wide settings are dropped before and after, so that it reads this environment."""
    import wandb

    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_ENTITY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb_config"))
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("WANDB_SILENT", "true")
    wandb.teardown()
    yield
    wandb.teardown()


TRAIN = {"epochs": 1, "batch_size": 16, "max_steps_per_epoch": 1, "tensorboard": False}


def test_wandb_mode_offline_in_the_environment_is_enough(
    cli, write_recipe, no_wandb_login, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recipe that leaves wandb.mode out follows WANDB_MODE, as wandb's own scripts do."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    result = cli("train", write_recipe(train=TRAIN), "--set", "wandb={project: srdistill-test}")
    assert result.exit_code == 0, result.output
    _, config, run = logged(tmp_path)
    assert run is not None and run.project == "srdistill-test" and config["wandb"]["mode"] is None


def test_a_failed_wandb_start_then_offline_continues_the_run(cli, write_recipe, no_wandb_login, tmp_path, flatten):
    """Logging settings are not part of a run's identity: the run folder a failed start left is reused."""
    recipe = write_recipe(train=TRAIN)
    failed = cli("train", recipe, "--set", "wandb={project: srdistill-test}")
    assert failed.exit_code == 1 and "Traceback" not in failed.output
    assert "W&B could not start a run" in flatten(failed.output) and "WANDB_MODE=offline" in flatten(failed.output)
    assert (tmp_path / "runs" / "tiny" / "recipe.yaml").is_file()  # the run had started
    again = cli("train", recipe, "--set", "wandb={project: srdistill-test, mode: offline}",
                "--set", "train.log_every=7")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert (tmp_path / "runs" / "tiny" / "summary.json").is_file()
    changed = cli("train", recipe, "--set", "seed=3")  # a setting that changes the run still counts
    assert changed.exit_code == 1 and "seed: 0 → 3" in flatten(changed.output)
