"""srdistill upscale never destroys input: no writes into the input folder, existing outputs kept,
atomic writes that a rerun completes, and clean errors for bad checkpoints and output paths."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srdistill.checkpoints import save_weights
from srdistill.compat.basicsr import rrdbnet_class


def tiny_net(channels: int = 3) -> torch.nn.Module:
    torch.manual_seed(0)
    return rrdbnet_class()(channels, channels, scale=4, num_feat=8, num_block=1, num_grow_ch=4)


CONFIG = {"type": "rrdb", "num_feat": 8, "num_block": 1, "num_grow_ch": 4, "scale": 4}


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "student.safetensors"
    save_weights(tiny_net(), path, {"role": "student", "config": CONFIG, "channels": 3})
    return path


@pytest.fixture
def images(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    (src / "nest").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png", "nest/c.png"):
        Image.fromarray(rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)).save(src / name)
    return src


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("where", [".", "nest", "up/up", "../in"])
def test_refuses_output_in_or_under_the_input_folder(cli, images: Path, checkpoint: Path, flatten, where) -> None:
    before = snapshot(images)
    result = cli("upscale", checkpoint, images, images / where)
    assert result.exit_code == 1
    assert "input folder" in flatten(result.stderr) and "Traceback" not in result.output
    assert snapshot(images) == before  # nothing written, nothing overwritten


def test_refuses_to_overwrite_the_input_image(cli, images: Path, checkpoint: Path, flatten) -> None:
    before = snapshot(images)
    for target in (images / "a.png", images):  # the file itself, or its own folder (same name)
        result = cli("upscale", checkpoint, images / "a.png", target)
        assert result.exit_code == 1 and "is the input image itself" in flatten(result.stderr)
    assert snapshot(images) == before


def test_output_that_is_an_existing_file_is_a_clear_error(cli, tmp_path, images, checkpoint, flatten) -> None:
    (tmp_path / "taken.png").write_bytes(b"mine")
    result = cli("upscale", checkpoint, images, tmp_path / "taken.png")
    assert result.exit_code == 1 and "is an existing file" in flatten(result.stderr)
    assert "Traceback" not in result.output and (tmp_path / "taken.png").read_bytes() == b"mine"


def test_existing_outputs_are_skipped_and_counted_unless_overwrite(cli, tmp_path, images, checkpoint) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"keep me")
    result = cli("upscale", checkpoint, images, out, "--tile", "32")
    assert result.exit_code == 0, result.output
    assert "wrote 2 images" in result.output and "skipped 1 images whose output exists" in result.output
    assert (out / "a.png").read_bytes() == b"keep me"
    assert Image.open(out / "nest" / "c.png").size == (40, 48)

    result = cli("upscale", checkpoint, images, out, "--tile", "32")
    assert "wrote 0 images" in result.output and "skipped 3 images" in result.output

    result = cli("upscale", checkpoint, images, out, "--tile", "32", "--overwrite")
    assert result.exit_code == 0 and "wrote 3 images" in result.output
    assert Image.open(out / "a.png").size == (40, 48)


def test_interrupted_run_leaves_whole_images_and_a_rerun_completes_it(
    cli, tmp_path: Path, images: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    real_save = Image.Image.save
    calls = []

    def save_then_interrupt(self: Image.Image, fp, *args, **kwargs) -> None:
        calls.append(fp)
        if len(calls) == 2:  # the second image: half a file, then Ctrl-C
            Path(fp).write_bytes(b"half")
            raise KeyboardInterrupt
        real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save_then_interrupt)
    cli("upscale", checkpoint, images, out, "--tile", "32")
    assert sorted(os.listdir(out)) == ["a.png"]  # the whole first image, no half-written second, no temp file
    monkeypatch.setattr(Image.Image, "save", real_save)

    result = cli("upscale", checkpoint, images, out, "--tile", "32")
    assert result.exit_code == 0, result.output
    assert "wrote 2 images" in result.output and "skipped 1 images" in result.output
    for name in ("a.png", "b.png", "nest/c.png"):
        assert Image.open(out / name).size == (40, 48)


def test_a_missing_output_folder_is_created_and_unwritable_one_is_a_clear_error(
    cli, tmp_path: Path, images: Path, checkpoint: Path, flatten
) -> None:
    (tmp_path / "file").write_text("x")
    result = cli("upscale", checkpoint, images, tmp_path / "file" / "below", "--tile", "32")
    assert result.exit_code == 1 and "Cannot write" in flatten(result.stderr)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("meta", "field"),
    [
        ({"role": "student", "config": "rrdb", "channels": 3}, "config: expected a mapping"),
        ({"role": "student", "config": {"type": "rrdb", "num_feat": "wide"}, "channels": 3}, "config.num_feat"),
        ({"role": "student", "config": {"type": "nope"}, "channels": 3}, "config.type: 'nope'"),
        ({"role": "student", "config": CONFIG, "channels": "three"}, "channels: expected a positive"),
        ({"role": ["student"], "config": CONFIG, "channels": 3}, "role: expected a string"),
    ],
)
@pytest.mark.parametrize("command", ["upscale", "export"])
def test_malformed_metadata_is_a_clear_error(cli, tmp_path, images, flatten, meta, field, command) -> None:
    path = tmp_path / "bad.safetensors"
    save_weights(tiny_net(), path, meta)
    args = (images, tmp_path / "out") if command == "upscale" else (tmp_path / "exported",)
    result = cli(command, path, *args)
    assert result.exit_code == 1, result.output
    text = flatten(result.stderr)
    assert "malformed srdistill metadata" in text and field in text and str(path) in text
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_metadata_that_is_not_an_object_is_a_clear_error(cli, tmp_path: Path, images: Path, flatten) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "odd.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_net().state_dict().items()}, str(path),
              metadata={"srdistill": json.dumps([1, 2])})  # fmt: skip
    result = cli("upscale", path, images, tmp_path / "out")
    assert result.exit_code == 1 and "not a JSON object" in flatten(result.stderr)


def test_not_an_rrdb_names_the_file_and_the_argument(cli, tmp_path: Path, images: Path, flatten) -> None:
    path = tmp_path / "classifier.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    result = cli("upscale", path, images, tmp_path / "out")
    assert result.exit_code == 1
    assert f"checkpoint ({path}) is not an RRDB network" in flatten(result.stderr)


def test_automatic_tile_is_printed_and_output_equals_an_explicit_whole_image(
    cli, tmp_path: Path, images: Path, checkpoint: Path
) -> None:
    result = cli("upscale", checkpoint, images, tmp_path / "auto")
    assert result.exit_code == 0, result.output
    assert "(automatic:" in result.output
    shutil.rmtree(images / "nest")
    cli("upscale", checkpoint, images, tmp_path / "whole", "--tile", "1024")
    for name in ("a.png", "b.png"):
        assert np.array_equal(np.asarray(Image.open(tmp_path / "auto" / name)),
                              np.asarray(Image.open(tmp_path / "whole" / name)))  # fmt: skip
