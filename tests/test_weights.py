"""Weights by name: student releases in torch's hub cache, teachers from the Hugging Face cache.

Every test runs against caches built in a temp folder (TORCH_HOME, HF_HOME) with small generated
weights, and the network is unreachable: the downloaders raise unless a test replaces them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

import srdistill.weights as weights
from srdistill.compat.basicsr import rrdbnet_class
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.students.rrdb import RRDBConfig, build_rrdb
from srdistill.teachers.timm_teacher import TimmTeacherConfig, build_timm_teacher

SMALL = {"num_feat": 8, "num_block": 1, "num_grow_ch": 4}
GREY = DataInfo(channels=1, num_classes=10, hr_size=(28, 28), class_names=tuple("abcdefghij"))
TEST_RESNET_HUB = "timm/test_resnet.r160_in1k"  # timm's hub repo for test_resnet's pretrained weights


class NoNetwork(AssertionError):
    pass


def _no_network(*args, **kwargs):
    raise NoNetwork(f"a test tried to reach the network: {args} {kwargs}")


@pytest.fixture(autouse=True)
def caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Empty torch and Hugging Face caches in tmp_path, offline, with every downloader disarmed."""
    import huggingface_hub
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # get_dir() follows TORCH_HOME
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    monkeypatch.setattr(weights, "_download", _no_network)
    # hf_hub_download with local_files_only never connects; anything else must be faked by the test
    real = huggingface_hub.hf_hub_download

    def local_only(*args, **kwargs):
        if not kwargs.get("local_files_only"):
            _no_network(*args, **kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", local_only)
    return {"torch": tmp_path / "torch" / "hub" / "checkpoints", "hf": tmp_path / "hf" / "hub"}


# -- student releases ---------------------------------------------------------------------------------------


def small_rrdb_file(path: Path, seed: int = 1) -> dict[str, torch.Tensor]:
    """A small grey RRDB saved as Real-ESRGAN saves its releases (nested under ``params_ema``)."""
    torch.manual_seed(seed)
    state = rrdbnet_class()(1, 1, scale=4, **SMALL).state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"params_ema": state}, path)
    return state


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def tiny_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A release 'TinyRRDB_x4' whose published file is a small generated RRDB (not yet cached)."""
    published = tmp_path / "published" / "TinyRRDB_x4.pth"
    state = small_rrdb_file(published)
    rel = weights.Release(
        "TinyRRDB_x4", "https://example.org/releases/TinyRRDB_x4.pth", sha256(published), "TinyRRDB_x4.pth", "test"
    )
    monkeypatch.setitem(weights.RELEASES, rel.name, rel)
    return rel, published, state


def test_the_release_table_is_well_formed() -> None:
    assert {"RRDB_ESRGAN_x4", "ESRGAN_SRx4_DF2KOST_official", "RealESRGAN_x4plus", "RealESRNet_x4plus"} <= set(
        weights.RELEASES
    )
    filenames = [r.filename for r in weights.RELEASES.values()]
    assert len(set(filenames)) == len(filenames)
    for name, rel in weights.RELEASES.items():
        assert rel.name == name and rel.url.startswith("https://")
        assert len(rel.sha256) in (8, 64) and int(rel.sha256, 16) >= 0  # full hash or the published prefix
    # a BasicSR file name carries the first 8 hex digits of its SHA-256, the prefix checked
    basicsr = weights.RELEASES["ESRGAN_SRx4_DF2KOST_official"]
    assert basicsr.filename.removesuffix(".pth").endswith("-" + basicsr.sha256)


def test_a_recipe_names_a_release_and_the_student_loads_it_from_the_cache(tiny_release, caches) -> None:
    rel, published, state = tiny_release
    caches["torch"].mkdir(parents=True)
    (caches["torch"] / rel.filename).write_bytes(published.read_bytes())
    student = build_rrdb(RRDBConfig(type="rrdb", weights=rel.name), GREY)
    for key, value in state.items():
        assert torch.equal(student.net.state_dict()[key], value), key
    assert student.config is not None and student.config.num_feat == SMALL["num_feat"]  # sizes read from the file


def test_local_paths_keep_working(tmp_path: Path) -> None:
    state = small_rrdb_file(tmp_path / "mine.pth")
    student = build_rrdb(RRDBConfig(type="rrdb", weights=str(tmp_path / "mine.pth")), GREY)
    assert torch.equal(student.net.conv_first.weight, state["conv_first.weight"])
    assert isinstance(RRDBConfig(type="rrdb", weights=str(tmp_path / "mine.pth")).weights, Path)


def test_a_misspelt_release_name_is_a_recipe_error_with_the_names() -> None:
    with pytest.raises(ValueError, match=r"Did you mean 'RealESRGAN_x4plus'"):
        RRDBConfig(type="rrdb", weights="RealESRGAN_x4plu")


def test_a_cached_file_with_the_wrong_hash_is_an_error_naming_it(tiny_release, caches) -> None:
    rel, _, _ = tiny_release
    bad = caches["torch"] / rel.filename
    small_rrdb_file(bad, seed=2)  # another network under the release's name
    with pytest.raises(UserError) as e:
        build_rrdb(RRDBConfig(type="rrdb", weights=rel.name), GREY)
    assert str(bad) in e.value.problem and rel.sha256 in e.value.problem
    assert f"srdistill weights fetch {rel.name}" in (e.value.fix or "")


def test_offline_a_missing_release_says_what_to_run_and_where_the_file_goes(tiny_release, caches) -> None:
    rel, _, _ = tiny_release
    with pytest.raises(UserError) as e:
        build_rrdb(RRDBConfig(type="rrdb", weights=rel.name), GREY)
    assert "HF_HUB_OFFLINE" in e.value.problem
    assert f"srdistill weights fetch {rel.name}" in (e.value.fix or "")
    assert str(caches["torch"]) in (e.value.fix or "")


def test_online_the_release_is_downloaded_from_its_url_verified_and_cached_once(
    tiny_release, caches, monkeypatch: pytest.MonkeyPatch
) -> None:
    rel, published, state = tiny_release
    monkeypatch.delenv("HF_HUB_OFFLINE")
    calls = []

    def fake_download(url: str, dst: Path) -> None:
        calls.append(url)
        assert dst.parent == caches["torch"] and dst.name != rel.filename  # a temp name until verified
        dst.write_bytes(published.read_bytes())

    monkeypatch.setattr(weights, "_download", fake_download)
    student = build_rrdb(RRDBConfig(type="rrdb", weights=rel.name), GREY)
    assert calls == [rel.url]
    assert sha256(caches["torch"] / rel.filename) == rel.sha256
    assert torch.equal(student.net.conv_first.weight, state["conv_first.weight"])
    build_rrdb(RRDBConfig(type="rrdb", weights=rel.name), GREY)
    assert calls == [rel.url]  # cached: no second download
    assert sorted(p.name for p in caches["torch"].iterdir()) == [rel.filename]


def test_a_download_with_the_wrong_hash_is_not_kept(tiny_release, caches, monkeypatch: pytest.MonkeyPatch) -> None:
    rel, _, _ = tiny_release
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(weights, "_download", lambda url, dst: dst.write_bytes(b"<html>rate limited</html>"))
    with pytest.raises(UserError, match="SHA-256") as e:
        weights.release_file(rel.name)
    assert rel.url in e.value.problem
    assert list(caches["torch"].iterdir()) == []  # neither the file nor a partial download


def test_a_failed_download_is_a_user_error(tiny_release, monkeypatch: pytest.MonkeyPatch) -> None:
    rel, _, _ = tiny_release
    monkeypatch.delenv("HF_HUB_OFFLINE")

    def refused(url: str, dst: Path) -> None:
        raise ConnectionError("connection refused")

    monkeypatch.setattr(weights, "_download", refused)
    with pytest.raises(UserError, match="connection refused"):
        weights.release_file(rel.name)


def test_a_published_hash_prefix_is_checked(tmp_path: Path, caches, monkeypatch: pytest.MonkeyPatch) -> None:
    published = tmp_path / "Prefix_x4.pth"
    small_rrdb_file(published)
    good = weights.Release("Prefix_x4", "https://example.org/p.pth", sha256(published)[:8], "Prefix_x4.pth", "t")
    monkeypatch.setitem(weights.RELEASES, good.name, good)
    caches["torch"].mkdir(parents=True)
    (caches["torch"] / good.filename).write_bytes(published.read_bytes())
    assert weights.release_file(good.name) == caches["torch"] / good.filename
    wrong = weights.Release(good.name, good.url, "00000000", good.filename, "t")
    monkeypatch.setitem(weights.RELEASES, good.name, wrong)
    with pytest.raises(UserError, match="00000000"):
        weights.release_file(good.name)


# -- teachers from the Hugging Face cache ------------------------------------------------------------------------


def hf_cache_entry(cache: Path, repo: str, files: dict[str, bytes], commit: str = "0" * 40) -> Path:
    """Lay out ``files`` as huggingface_hub caches a download of ``repo`` at revision main."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, data in files.items():
        (snapshot / name).write_bytes(data)
    return snapshot


def grey_resnet_weights(tmp_path: Path, seed: int, **kwargs) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = timm.create_model("test_resnet", pretrained=False, num_classes=10, in_chans=1, **kwargs)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, tmp_path / f"w{seed}.safetensors")
    return state


def teacher_config(**settings) -> TimmTeacherConfig:
    """test_resnet for grey images (ImageNet's 3-value mean/std replaced unless a test sets them)."""
    return TimmTeacherConfig(**{"type": "timm", "model": "test_resnet", "mean": [0.5], "std": [0.5], **settings})


def assert_loaded(teacher, state: dict[str, torch.Tensor]) -> None:
    own = teacher.model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in state.items())


def test_pretrained_true_reads_timms_hub_repo_from_the_cache(tmp_path: Path, caches) -> None:
    state = grey_resnet_weights(tmp_path, seed=3)
    files = {"model.safetensors": (tmp_path / "w3.safetensors").read_bytes()}
    hf_cache_entry(caches["hf"], TEST_RESNET_HUB, files)
    assert weights.timm_hub_ref("test_resnet") == f"hf-hub:{TEST_RESNET_HUB}"
    teacher = build_timm_teacher(teacher_config(pretrained=True), GREY)
    assert_loaded(teacher, state)


def test_weights_hf_hub_reads_any_repo_and_its_preprocessing(tmp_path: Path, caches) -> None:
    state = grey_resnet_weights(tmp_path, seed=4)
    config = {"architecture": "test_resnet", "pretrained_cfg": {"mean": [0.25], "std": [0.125], "crop_pct": 0.5}}
    files = {
        "model.safetensors": (tmp_path / "w4.safetensors").read_bytes(),
        "config.json": json.dumps(config).encode(),
    }
    hf_cache_entry(caches["hf"], "someone/grey-resnet", files)
    teacher = build_timm_teacher(teacher_config(weights="hf-hub:someone/grey-resnet", mean=None, std=None), GREY)
    assert_loaded(teacher, state)
    prep = teacher.preprocessing()
    assert prep["mean"] == [0.25] and prep["std"] == [0.125] and prep["crop_pct"] == 0.5


def test_a_pytorch_bin_in_the_hub_repo_is_read_without_unpickling_code(tmp_path: Path, caches) -> None:
    state = grey_resnet_weights(tmp_path, seed=5)
    torch.save(state, tmp_path / "pytorch_model.bin")
    hf_cache_entry(
        caches["hf"], "someone/bin-resnet", {"pytorch_model.bin": (tmp_path / "pytorch_model.bin").read_bytes()}
    )
    teacher = build_timm_teacher(teacher_config(weights="hf-hub:someone/bin-resnet"), GREY)
    assert_loaded(teacher, state)


def test_offline_a_missing_hub_repo_says_what_to_run(caches) -> None:
    with pytest.raises(UserError) as e:
        build_timm_teacher(teacher_config(pretrained=True), GREY)
    assert "HF_HUB_OFFLINE" in e.value.problem and str(caches["hf"]) in e.value.problem
    assert f"srdistill weights fetch hf-hub:{TEST_RESNET_HUB}" in (e.value.fix or "")


def test_online_the_hub_file_is_downloaded_into_the_hf_cache(tmp_path: Path, caches, monkeypatch) -> None:
    import huggingface_hub

    state = grey_resnet_weights(tmp_path, seed=6)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    calls = []

    def fake_hf_download(repo_id, filename, *, revision, cache_dir, local_files_only):
        calls.append((repo_id, filename, revision, Path(cache_dir), local_files_only))
        if filename != "model.safetensors":
            raise huggingface_hub.errors.LocalEntryNotFoundError(filename)
        return str(tmp_path / "w6.safetensors")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hf_download)
    teacher = build_timm_teacher(teacher_config(weights="hf-hub:someone/resnet@v1"), GREY)
    assert_loaded(teacher, state)
    assert ("someone/resnet", "model.safetensors", "v1", caches["hf"], False) in calls


def test_pretrained_and_weights_together_are_a_recipe_error() -> None:
    with pytest.raises(ValueError, match="either weights or pretrained"):
        teacher_config(pretrained=True, weights="x.pth")
    with pytest.raises(ValueError, match="hf-hub:<org>/<repo>"):
        teacher_config(weights="hf-hub:no-slash")


# -- the command line -----------------------------------------------------------------------------------------


def test_weights_list_shows_every_release_and_what_is_cached(tiny_release, caches, cli, flatten) -> None:
    rel, published, _ = tiny_release
    caches["torch"].mkdir(parents=True)
    (caches["torch"] / rel.filename).write_bytes(published.read_bytes())
    hf_cache_entry(caches["hf"], "someone/grey-resnet", {"model.safetensors": b"x"})
    result = cli("weights", "list")
    assert result.exit_code == 0, result.output
    text = flatten(result.output)
    for name in weights.RELEASES:
        assert name in text
    assert "hf-hub:someone/grey-resnet" in text
    row = next(line for line in result.output.splitlines() if rel.name in line)
    assert "yes" in row


def test_weights_fetch_checks_the_cached_copy_and_offline_misses_fail(tiny_release, caches, cli, flatten) -> None:
    rel, published, _ = tiny_release
    caches["torch"].mkdir(parents=True)
    (caches["torch"] / rel.filename).write_bytes(published.read_bytes())
    ok = cli("weights", "fetch", rel.name)
    assert ok.exit_code == 0, ok.output
    assert rel.sha256 in flatten(ok.output)
    missing = cli("weights", "fetch", "RealESRGAN_x4plus")
    assert missing.exit_code == 1
    assert "srdistill weights fetch RealESRGAN_x4plus" in flatten(missing.output)
    unknown = cli("weights", "fetch", "RealESRGAN_x4plu")
    assert unknown.exit_code == 1 and "Did you mean 'RealESRGAN_x4plus'" in flatten(unknown.output)


def test_weights_fetch_downloads_a_hub_repo_with_its_config(tmp_path: Path, caches, cli, monkeypatch) -> None:
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE")
    asked = []

    def fake_hf_download(repo_id, filename, *, revision, cache_dir, local_files_only):
        asked.append(filename)
        path = tmp_path / filename
        path.write_bytes(b"{}" if filename == "config.json" else b"weights")
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hf_download)
    result = cli("weights", "fetch", f"hf-hub:{TEST_RESNET_HUB}")
    assert result.exit_code == 0, result.output
    assert asked == ["model.safetensors", "config.json"]


def test_a_compare_row_can_name_a_release(tiny_release, caches) -> None:
    from srdistill.catalog import catalog
    from srdistill.checkpoints.student import load_student_checkpoint

    rel, published, state = tiny_release
    caches["torch"].mkdir(parents=True)
    (caches["torch"] / rel.filename).write_bytes(published.read_bytes())
    student = load_student_checkpoint(rel.name, GREY, RRDBConfig(type="rrdb"), catalog().students)
    assert torch.equal(student.net.conv_first.weight, state["conv_first.weight"])
