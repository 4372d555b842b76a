"""WebDataset shards: packing a class-folder tree, reading it back by random access, URLs, bad shards."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from srdistill.catalog import catalog
from srdistill.data.image_folder import FolderImages, scan_classes
from srdistill.data.shard_writer import existing_shards, pack
from srdistill.data.shards import ShardImages, ShardsConfig, build_shards, expand
from srdistill.errors import UserError

HR = 32


@pytest.fixture(scope="module")
def shards(image_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The image tree packed 5 images per shard: train (24 images) in 5 shards, val (12) in 3."""
    out = tmp_path_factory.mktemp("shards")
    return {split: pack(image_tree / split, out / split, max_count=5).pattern for split in ("train", "val")}


def build(shards: dict[str, str], cache: Path, **settings: Any):  # type: ignore[no-untyped-def]
    return build_shards(ShardsConfig(type="shards", **shards, hr_size=HR, cache_dir=str(cache), **settings))


def by_file(dataset: ShardImages) -> dict[str, tuple[torch.Tensor, int]]:
    """Every sample of ``dataset`` by its source file (read from its shard's .json member)."""
    out = {}
    for i in range(len(dataset)):
        shard, member = dataset.name(i).rsplit(":", 1)
        with tarfile.open(shard) as tar:
            meta = json.loads(tar.extractfile(member.rsplit(".", 1)[0] + ".json").read())  # type: ignore[union-attr]
        image, label = dataset[i]
        out[meta["file"]] = (image, label)
    return out


def test_brace_patterns_expand_in_order() -> None:
    assert expand("a-{008..011}.tar") == ["a-008.tar", "a-009.tar", "a-010.tar", "a-011.tar"]
    assert expand(["x-{a,b}-{1..2}", "y"]) == ["x-a-1", "x-a-2", "x-b-1", "x-b-2", "y"]
    for bad in ("a-{1-3}.tar", "a-{1..3.tar"):
        with pytest.raises(UserError, match="Cannot expand the braces"):
            expand(bad)


def test_packs_every_image_once_with_classes_mixed(image_tree: Path, shards: dict[str, str]) -> None:
    files = expand(shards["train"])
    assert len(files) == 5 and shards["train"].endswith("train-{000000..000004}.tar")
    keys: list[str] = []
    for file in files:
        with tarfile.open(file) as tar:
            names = tar.getnames()
        assert len(names) % 3 == 0 and len(names) <= 15  # image, .cls, .json per sample; 5 samples at most
        keys += [n for n in names if n.endswith(".json")]
    assert len(keys) == len(set(keys)) == 24
    with tarfile.open(files[0]) as tar:
        labels = {tar.extractfile(n).read() for n in tar.getnames() if n.endswith(".cls")}  # type: ignore[union-attr]
    assert len(labels) > 1  # shuffled: a shard is not one class


def test_reads_the_same_images_as_the_folder(image_tree: Path, shards: dict[str, str], tmp_path: Path) -> None:
    splits = build(shards, tmp_path, test=shards["val"])
    assert splits.sizes() == {"train": 24, "val": 12, "test": 12}
    assert splits.info.class_names == ("cat", "dog", "fox") and splits.info.num_classes == 3
    samples, _ = scan_classes(image_tree / "train")
    folder = FolderImages(samples, HR, 3)
    expected = {os.path.relpath(path, image_tree / "train"): folder[i] for i, (path, _) in enumerate(samples)}
    got = by_file(splits.train)
    assert set(got) == set(expected)
    for name, (image, label) in got.items():
        assert label == expected[name][1] and torch.equal(image, expected[name][0]), name


def test_fractions_are_class_balanced(shards: dict[str, str], tmp_path: Path) -> None:
    splits = build(shards, tmp_path, train_fraction=0.5)
    assert Counter(splits.train[i][1] for i in range(len(splits.train))) == {0: 4, 1: 4, 2: 4}
    assert Counter(splits.val[i][1] for i in range(len(splits.val))) == {0: 2, 1: 2, 2: 2}
    assert splits.sizes()["test"] == 6


def test_the_index_is_cached_and_rebuilt_when_the_shard_changes(
    image_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import srdistill.data.shard_index as module

    packed = {s: pack(image_tree / s, tmp_path / s, max_count=50).pattern for s in ("train", "val")}
    build(packed, tmp_path / "cache")
    assert len(list((tmp_path / "cache" / "index").glob("*.json"))) == 2

    def no_scan(*args: object) -> None:
        raise AssertionError("indexed again")

    monkeypatch.setattr(module, "_scan_tar", no_scan)
    assert build(packed, tmp_path / "cache").sizes()["train"] == 24
    pack(image_tree / "val", tmp_path / "train", overwrite=True)  # the train shard now holds val's 12 images
    monkeypatch.undo()
    assert build(packed, tmp_path / "cache").sizes()["train"] == 12


@pytest.mark.parametrize("scheme", ["file", "pipe"])
def test_urls(shards: dict[str, str], tmp_path: Path, scheme: str) -> None:
    pytest.importorskip("webdataset")
    url = {"file": lambda p: Path(p).absolute().as_uri(), "pipe": lambda p: f"pipe:cat {p}"}[scheme]
    urls = {split: [url(p) for p in expand(pattern)] for split, pattern in shards.items()}
    local = build(shards, tmp_path / "a")
    remote = build(urls, tmp_path / "b")
    assert remote.sizes() == local.sizes()
    for i in range(len(local.train)):
        assert torch.equal(remote.train[i][0], local.train[i][0]) and remote.train[i][1] == local.train[i][1]
    fetched = list((tmp_path / "b" / "fetched").glob("*")) if (tmp_path / "b" / "fetched").exists() else []
    assert len(fetched) == (8 if scheme == "pipe" else 0)  # pipe: copied into the cache; file: read in place


def test_a_url_that_fails_is_a_user_error(shards: dict[str, str], tmp_path: Path) -> None:
    pytest.importorskip("webdataset")
    with pytest.raises(UserError, match=r"Could not fetch shard pipe:cat /no/such/shard\.tar") as e:
        build({**shards, "val": "pipe:cat /no/such/shard.tar"}, tmp_path)
    assert not list((tmp_path / "fetched").glob("*"))  # nothing half-written left
    assert "webdataset.gopen" in str(e.value.fix)


def _tar_with(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _bad_shard(kind: str, folder: Path, good: Path) -> tuple[str, str]:
    """A broken shard of ``kind`` in ``folder``, and the words its error must contain."""
    path = folder / f"{kind}.tar"
    data = good.read_bytes()
    if kind == "missing":
        return str(path), "Shard not found"
    if kind == "folder":
        path.mkdir()
        return str(path), "is a folder, not a tar file; it holds no .tar files"
    if kind == "not_a_tar":
        path.write_bytes(os.urandom(4096))
        return str(path), "is not a readable tar file"
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
        return str(path), "truncated"
    if kind == "gzip":
        path.write_bytes(gzip.compress(data))
        return str(path), "gzip-compressed"
    if kind == "no_label":
        _tar_with(path, {"a.jpg": b"\xff\xd8", "b.jpg": b"\xff\xd8", "b.cls": b"1"})
        return str(path), "Sample a in shard .* lacks a .cls label"
    if kind == "bad_label":
        _tar_with(path, {"a.jpg": b"\xff\xd8", "a.cls": b"cat"})
        return str(path), "not a class index"
    _tar_with(path, {"readme.txt": b"hello"})
    return str(path), "holds no samples"


BAD_KINDS = ["missing", "folder", "not_a_tar", "truncated", "gzip", "no_label", "bad_label", "empty"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_shards_name_the_shard(kind: str, shards: dict[str, str], tmp_path: Path) -> None:
    shard, words = _bad_shard(kind, tmp_path, Path(expand(shards["val"])[0]))
    with pytest.raises(UserError, match=words) as e:
        build({**shards, "val": [*expand(shards["val"]), shard]}, tmp_path / "cache")
    assert shard in e.value.problem and e.value.fix


def test_a_folder_of_shards_named_as_a_shard_shows_what_it_holds(shards: dict[str, str], tmp_path: Path) -> None:
    folder = Path(expand(shards["val"])[0]).parent
    with pytest.raises(UserError, match=r"is a folder, not a tar file; it holds 8 .tar files \(train-000000.tar") as e:
        build({**shards, "val": str(folder)}, tmp_path / "cache")
    assert "{000000..000009}.tar" in (e.value.fix or "")


def test_shards_are_read_back_by_webdataset_itself(shards: dict[str, str]) -> None:
    import webdataset as wds

    samples = list(wds.WebDataset(expand(shards["val"]), shardshuffle=False))
    assert len(samples) == 12
    assert all({"cls", "json", "__key__"} <= set(s) and ({"png", "jpg"} & set(s)) for s in samples)
    assert {int(s["cls"]) for s in samples} == {0, 1, 2}


def test_a_bad_shard_is_one_screen_in_the_cli(cli, make_recipe, shards: dict[str, str], tmp_path: Path, flatten):
    path = tmp_path / "broken.tar"
    path.write_bytes(b"not a tar at all" * 100)
    recipe = shard_recipe(make_recipe, tmp_path, {**shards, "val": str(path)})
    result = cli("train", recipe, "--dry-run")
    assert result.exit_code == 1 and "Traceback" not in result.output
    text = flatten(result.output)
    assert f"Shard {path} is not a readable tar file" in text and "Fix: Re-create the shard" in text


def test_undecodable_images_are_skipped_by_name(tmp_path: Path) -> None:
    from PIL import Image

    good = io.BytesIO()
    Image.new("RGB", (40, 40), "red").save(good, "PNG")
    shard = tmp_path / "s.tar"
    _tar_with(shard, {"a.png": good.getvalue(), "a.cls": b"0", "b.jpg": b"not a jpeg", "b.cls": b"1"})
    splits = build({"train": str(shard), "val": [str(shard), str(shard)]}, tmp_path / "cache")
    image, label = splits.train[0]
    assert image is not None and image.shape == (3, HR, HR) and label == 0
    assert splits.train[1] == (None, f"{shard}:b.jpg")


def test_pack_refuses_to_overwrite_and_replaces_a_longer_set(image_tree: Path, tmp_path: Path) -> None:
    pack(image_tree / "train", tmp_path / "s", max_count=5)
    assert len(existing_shards(tmp_path / "s")) == 5
    before = {p: p.read_bytes() for p in existing_shards(tmp_path / "s")}
    with pytest.raises(UserError, match="already holds 5 shards"):
        pack(image_tree / "val", tmp_path / "s")
    assert {p: p.read_bytes() for p in existing_shards(tmp_path / "s")} == before
    done = pack(image_tree / "val", tmp_path / "s", max_count=5, overwrite=True)
    assert existing_shards(tmp_path / "s") == done.shards and len(done.shards) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left
    again = pack(image_tree / "val", tmp_path / "t", max_count=5)
    assert [p.read_bytes() for p in again.shards] == [p.read_bytes() for p in done.shards]  # reproducible


def test_a_pack_that_fails_half_way_leaves_the_previous_set_whole(image_tree: Path, tmp_path: Path) -> None:
    pack(image_tree / "val", tmp_path / "s", max_count=5)
    before = {p: p.read_bytes() for p in existing_shards(tmp_path / "s")}

    def stop(done: int, total: int) -> None:
        if done == 12:  # two shards written and closed, the third open
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pack(image_tree / "train", tmp_path / "s", max_count=5, overwrite=True, progress=stop)
    assert {p: p.read_bytes() for p in existing_shards(tmp_path / "s")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in before]  # no temporary file left


def test_shards_command(cli, image_tree: Path, tmp_path: Path, flatten) -> None:
    result = cli("shards", image_tree / "train", tmp_path / "out" / "train", "--max-count", "10")
    assert result.exit_code == 0, result.output
    assert f"wrote 3 shards, 24 images of 3 classes: {tmp_path}/out/train-{{000000..000002}}.tar" in flatten(
        result.output
    )
    again = cli("shards", image_tree / "train", tmp_path / "out" / "train")
    assert again.exit_code == 1 and "Pass --overwrite" in flatten(again.output)
    missing = cli("shards", tmp_path / "nowhere", tmp_path / "x")
    assert missing.exit_code == 1 and "Image folder not found" in flatten(missing.output)


@pytest.mark.parametrize("inside", [".", "cat", "cat/deeper"])
def test_pack_refuses_to_write_inside_the_source_tree(cli, image_tree: Path, tmp_path: Path, flatten, inside) -> None:
    import shutil

    source = tmp_path / "src"
    shutil.copytree(image_tree / "train", source)
    before = sorted(p.relative_to(source) for p in source.rglob("*"))
    result = cli("shards", source, source / inside / "shard")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "would be written inside the source folder" in flatten(result.output)
    assert sorted(p.relative_to(source) for p in source.rglob("*")) == before  # nothing written, no folder made


def shard_recipe(make_recipe, folder: Path, shards: dict[str, Any], **train: Any) -> Path:
    recipe: dict[str, Any] = make_recipe(folder)
    recipe["data"] = {"type": "shards", **shards, "hr_size": 28, "cache_dir": str(folder / "cache")}
    recipe["teacher"] |= {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    recipe["train"] |= {"batch_size": 4, "max_steps_per_epoch": 2, "val_batch_size": 4, **train}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def test_trains_from_shards(cli, make_recipe, shards: dict[str, str], tmp_path: Path) -> None:
    assert "shards" in catalog().datasets.names()
    result = cli("train", shard_recipe(make_recipe, tmp_path, shards, num_workers=1))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "tiny" / "best.safetensors").is_file()


COVERAGE = Path(__file__).with_name("shard_coverage.py")


def test_two_processes_with_workers_read_every_sample_once_per_epoch(shards: dict[str, str], tmp_path: Path) -> None:
    """torchrun, 2 gloo processes × 2 loader workers: every training sample once per epoch (24 images
    in batches of 3 per process: no remainder to drop), every validation sample once, none twice."""
    spec = tmp_path / "data.yaml"
    spec.write_text(yaml.safe_dump({"type": "shards", **shards, "hr_size": 16, "cache_dir": str(tmp_path / "c")}))
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=2",
         str(COVERAGE), str(spec), str(tmp_path / "seen")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    seen = [json.loads((tmp_path / "seen" / f"rank{r}.json").read_text()) for r in range(2)]
    splits = build_shards(ShardsConfig.model_validate(yaml.safe_load(spec.read_text())))
    for split in ("train", "val"):
        everything = sorted(splits.train.name(i) if split == "train" else _name(splits.val, i)
                            for i in range(len(getattr(splits, split))))  # fmt: skip
        for epoch in ("1", "2"):
            mine = [seen[r][split][epoch] for r in range(2)]
            assert mine[0] and mine[1], "both processes read samples"
            assert not set(mine[0]) & set(mine[1])
            assert sorted(mine[0] + mine[1]) == everything, (split, epoch)
    # each process's training batches come from several workers, and epochs differ in order
    assert len(set(seen[0]["workers"])) == 2
    assert seen[0]["train"]["1"] != seen[0]["train"]["2"]


def _name(subset: Any, i: int) -> str:
    return subset.dataset.name(subset.indices[i])


@pytest.mark.slow
def test_torchrun_trains_from_shards(make_recipe, shards: dict[str, str], tmp_path: Path) -> None:
    """`srdistill train` under torchrun (2 gloo processes, 1 loader worker each) on shards."""
    recipe = shard_recipe(make_recipe, tmp_path, shards, num_workers=1, epochs=2)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=2",
         "-m", "srdistill", "train", str(recipe)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "× 2 processes" in done.stderr
    rows = (tmp_path / "runs" / "tiny" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3  # header and two epochs


def test_splits_packed_with_classes_numbered_apart_are_refused(image_tree: Path, tmp_path: Path) -> None:
    """val/ lacking the first class, packed on its own, numbers the rest from 0: reading it would shift labels."""
    import shutil

    val = tmp_path / "val"
    shutil.copytree(image_tree / "val", val)
    first = sorted(p.name for p in val.iterdir())[0]
    shutil.rmtree(val / first)
    train = pack(image_tree / "train", tmp_path / "s" / "train").pattern
    packed = {"train": train, "val": pack(val, tmp_path / "s" / "val").pattern}
    with pytest.raises(UserError, match=r"data.val: class \d is '\w+' there but '\w+' in data.train") as e:
        build(packed, tmp_path / "cache")
    assert "--classes-from TRAIN_FOLDER" in (e.value.fix or "")
    with pytest.raises(UserError, match=first):  # numbered by the training split's classes: the gap is named
        pack(val, tmp_path / "s" / "val2", classes_from=image_tree / "train")


def test_classes_from_the_training_split_number_every_split_alike(cli, image_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    for split in ("train", "val"):
        result = cli("shards", image_tree / split, out / split, "--classes-from", image_tree / "train")
        assert result.exit_code == 0, result.output
    data = build({s: str(out / f"{s}-000000.tar") for s in ("train", "val")}, tmp_path / "cache")
    assert data.info.num_classes == 3
