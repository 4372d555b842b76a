"""Student releases by name: torch's hub cache, torch.hub's downloader and file names, SHA-256 on every use.

Every test runs against caches built in a temp folder (``weight_caches``) with small generated
weights, and the network is unreachable: the downloaders raise unless a test replaces them, or
downloads from a ``file://`` URL.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
import torch.hub

import srdistill.weights as weights
from srdistill.compat.basicsr import rrdbnet_class
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.students.rrdb import RRDBConfig, build_rrdb

SMALL = {"num_feat": 8, "num_block": 1, "num_grow_ch": 4}
GREY = DataInfo(channels=1, num_classes=10, hr_size=(28, 28), class_names=tuple("abcdefghij"))
TORCH_DOWNLOAD = torch.hub.download_url_to_file  # before the fixtures disarm it


@pytest.fixture(autouse=True)
def caches(weight_caches: dict[str, Path]) -> dict[str, Path]:
    return weight_caches


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
    """A release 'TinyRRDB_x4' whose published file is a small generated RRDB (not yet cached); its
    URL is a ``file://`` one, which torch.hub's downloader reads without a network."""
    published = tmp_path / "published" / "TinyRRDB_x4.pth"
    state = small_rrdb_file(published)
    rel = weights.Release("TinyRRDB_x4", published.as_uri(), sha256(published), "test")
    monkeypatch.setitem(weights.RELEASES, rel.name, rel)
    return rel, published, state


@pytest.fixture
def real_downloader(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """torch.hub's own ``download_url_to_file`` (file:// URLs only), recording each URL and hash prefix."""
    from srdistill.hf_hub import offline

    calls = []

    def download(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        assert url.startswith("file://"), url
        calls.append((url, hash_prefix, offline()))
        TORCH_DOWNLOAD(url, dst, hash_prefix=hash_prefix, progress=progress)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    return calls


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


def test_a_release_is_cached_under_the_name_torch_hub_gives_it(tiny_release, caches) -> None:
    """A copy torch.hub already holds (load_state_dict_from_url of the release's URL) is the one used."""
    assert weights.RELEASES["RRDB_ESRGAN_x4"].filename == "ESRGAN.pth"  # KAIR's URL ends in ESRGAN.pth
    rel, published, state = tiny_release
    caches["torch"].mkdir(parents=True)
    (caches["torch"] / rel.filename).write_bytes(published.read_bytes())
    # torch.hub finds its copy without downloading (its downloader is disarmed) ...
    assert torch.equal(torch.hub.load_state_dict_from_url(rel.url)["params_ema"]["conv_first.weight"],
                       state["conv_first.weight"])  # fmt: skip
    # ... and so does srdistill, at the same path
    assert weights.release_file(rel.name) == caches["torch"] / rel.filename


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


def test_the_release_is_downloaded_by_torch_hub_verified_and_cached_once_even_with_hf_offline(
    tiny_release, caches, real_downloader
) -> None:
    """HF_HUB_OFFLINE is the Hugging Face hub's switch: torch-hub downloads go ahead under it."""
    rel, _, state = tiny_release
    student = build_rrdb(RRDBConfig(type="rrdb", weights=rel.name), GREY)
    assert real_downloader == [(rel.url, rel.sha256, True)]  # asked with the release's hash, HF offline
    assert sha256(caches["torch"] / rel.filename) == rel.sha256
    assert torch.equal(student.net.conv_first.weight, state["conv_first.weight"])
    build_rrdb(RRDBConfig(type="rrdb", weights=rel.name), GREY)
    assert len(real_downloader) == 1  # cached: no second download
    assert sorted(p.name for p in caches["torch"].iterdir()) == [rel.filename]


def test_a_download_with_the_wrong_hash_is_not_kept(tiny_release, caches, real_downloader, monkeypatch) -> None:
    rel, published, _ = tiny_release
    published.write_bytes(b"<html>rate limited</html>")  # what the URL serves now
    with pytest.raises(UserError, match="invalid hash value") as e:
        weights.release_file(rel.name)
    assert rel.url in e.value.problem and rel.sha256 in e.value.problem
    assert list(caches["torch"].iterdir()) == []  # neither the file nor a partial download


def test_a_failed_download_says_how_to_fill_the_cache_by_hand(tiny_release, caches, real_downloader) -> None:
    rel, published, _ = tiny_release
    published.unlink()  # the server does not answer
    with pytest.raises(UserError, match="Could not download TinyRRDB_x4") as e:
        weights.release_file(rel.name)
    assert f"srdistill weights fetch {rel.name}" in (e.value.fix or "") and str(caches["torch"]) in (e.value.fix or "")
    assert list(caches["torch"].iterdir()) == []


def test_a_published_hash_prefix_is_checked(tmp_path: Path, caches, monkeypatch: pytest.MonkeyPatch) -> None:
    published = tmp_path / "Prefix_x4.pth"
    small_rrdb_file(published)
    good = weights.Release("Prefix_x4", "https://example.org/Prefix_x4.pth", sha256(published)[:8], "t")
    monkeypatch.setitem(weights.RELEASES, good.name, good)
    caches["torch"].mkdir(parents=True)
    (caches["torch"] / good.filename).write_bytes(published.read_bytes())
    assert weights.release_file(good.name) == caches["torch"] / good.filename
    wrong = weights.Release(good.name, good.url, "00000000", "t")
    monkeypatch.setitem(weights.RELEASES, good.name, wrong)
    with pytest.raises(UserError, match="00000000"):
        weights.release_file(good.name)


# -- the command line -----------------------------------------------------------------------------------------


def test_weights_list_shows_every_release_and_what_is_cached(tiny_release, caches, cli, flatten) -> None:
    rel, published, _ = tiny_release
    caches["torch"].mkdir(parents=True)
    (caches["torch"] / rel.filename).write_bytes(published.read_bytes())
    result = cli("weights", "list")
    assert result.exit_code == 0, result.output
    text = flatten(result.output)
    for name in weights.RELEASES:
        assert name in text
    row = next(line for line in result.output.splitlines() if rel.name in line)
    assert "yes" in row and "damaged" not in text


def test_weights_list_calls_a_copy_with_another_hash_damaged(tiny_release, caches, cli, flatten) -> None:
    rel, _, _ = tiny_release
    small_rrdb_file(caches["torch"] / rel.filename, seed=2)  # another network under the release's name
    result = cli("weights", "list")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if rel.name in line)
    assert "damaged" in row and "yes" not in row
    assert f"{caches['torch'] / rel.filename} has another SHA-256 than {rel.name}" in flatten(result.output)


def test_weights_fetch_checks_the_cached_copy_and_misses_fail(tiny_release, caches, cli, flatten) -> None:
    rel, published, _ = tiny_release
    caches["torch"].mkdir(parents=True)
    (caches["torch"] / rel.filename).write_bytes(published.read_bytes())
    ok = cli("weights", "fetch", rel.name)
    assert ok.exit_code == 0, ok.output
    assert rel.sha256 in flatten(ok.output)
    missing = cli("weights", "fetch", "RealESRGAN_x4plus")  # the downloader is disarmed: no network
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert "srdistill weights fetch RealESRGAN_x4plus" in flatten(missing.output)
    unknown = cli("weights", "fetch", "RealESRGAN_x4plu")
    assert unknown.exit_code == 1 and "Did you mean 'RealESRGAN_x4plus'" in flatten(unknown.output)


def test_a_compare_row_can_name_a_release(tiny_release, caches) -> None:
    from srdistill.catalog import catalog
    from srdistill.checkpoints.student import load_student_checkpoint

    rel, published, state = tiny_release
    caches["torch"].mkdir(parents=True)
    (caches["torch"] / rel.filename).write_bytes(published.read_bytes())
    student = load_student_checkpoint(rel.name, GREY, RRDBConfig(type="rrdb"), catalog().students)
    assert torch.equal(student.net.conv_first.weight, state["conv_first.weight"])
