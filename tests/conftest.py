"""Shared fixtures: tiny data sets written on the fly, and tiny recipes that use them."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import Any

# With both cores busy (another process training), OpenMP's spin-waiting threads make torch on
# CPU ~50x slower; passive waiting keeps the suite fast. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest
import torch
import yaml

torch.set_num_threads(2)

FMNIST_TRAIN = 240
FMNIST_TEST = 60
IMAGE_TREE_CLASSES = ("cat", "dog", "fox")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not torch.cuda.is_available():
        no_gpu = pytest.mark.skip(reason="cuda: needs a CUDA GPU")
        for item in items:
            if item.get_closest_marker("cuda") is not None:
                item.add_marker(no_gpu)
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# -- Fashion-MNIST look-alike -----------------------------------------------------------------------


def write_idx(path: Path, array: np.ndarray) -> None:
    """``array`` (uint8) as a gzip-compressed IDX file."""
    assert array.dtype == np.uint8
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def fmnist_block(label: int) -> tuple[slice, slice]:
    """Where class ``label``'s bright block is: its row and width depend on the class, and it is
    centred horizontally, so horizontal flips (the teacher recipe's augmentation) keep the class."""
    top, width = 1 + (label // 2) * 5, 6 if label % 2 == 0 else 16
    left = (28 - width) // 2
    return slice(top, top + 5), slice(left, left + width)


def fmnist_like(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy 28×28 images, an equal share of each of 10 classes, class k a bright block."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.int32)
    for i, k in enumerate(labels):
        images[i][fmnist_block(int(k))] += 200
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.uint8)


@pytest.fixture(scope="session")
def fmnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fmnist")
    train_x, train_y = fmnist_like(FMNIST_TRAIN, seed=1)
    test_x, test_y = fmnist_like(FMNIST_TEST, seed=2)
    write_idx(root / "train-images-idx3-ubyte.gz", train_x)
    write_idx(root / "train-labels-idx1-ubyte.gz", train_y)
    write_idx(root / "t10k-images-idx3-ubyte.gz", test_x)
    write_idx(root / "t10k-labels-idx1-ubyte.gz", test_y)
    return root


# -- ImageNet-style folder ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def image_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """root/{train,val}/<class>/ with JPEGs and PNGs of varied sizes: 8 train and 4 val per class."""
    from PIL import Image

    root = tmp_path_factory.mktemp("imagetree")
    rng = np.random.default_rng(0)
    sizes = [(40, 50), (90, 70), (64, 64), (50, 80), (72, 45), (60, 90), (88, 66), (45, 45)]
    for split, count in (("train", 8), ("val", 4)):
        for c, name in enumerate(IMAGE_TREE_CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                w, h = sizes[(i + c) % len(sizes)]
                pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
                pixels[..., c] = 255  # a class colour
                ext = "PNG" if i % 3 == 2 else "JPEG"
                Image.fromarray(pixels).save(folder / f"{split}_{name}_{i}.{ext}", format=ext)
    return root


# -- LPIPS backbone --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def alexnet_features_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated stand-in for torchvision's AlexNet weights: its features (all LPIPS uses), seeded."""
    import torchvision

    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in torchvision.models.alexnet(weights=None).features.state_dict().items()}
    path = tmp_path_factory.mktemp("lpips") / "alexnet-features.pth"
    torch.save(state, path)
    return path


@pytest.fixture
def lpips_backbone(alexnet_features_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """LPIPS reads its backbone from the generated file (SRDISTILL_LPIPS_BACKBONE), whose hash prefix
    stands in for torchvision's."""
    import hashlib

    import srdistill.metrics.lpips as lpips_module

    monkeypatch.setenv("SRDISTILL_LPIPS_BACKBONE", str(alexnet_features_file))
    digest = hashlib.sha256(alexnet_features_file.read_bytes()).hexdigest()
    monkeypatch.setattr(lpips_module, "BACKBONE_SHA256_PREFIX", digest[:8])
    return alexnet_features_file


# -- weight caches -----------------------------------------------------------------------------------


class NoNetwork(AssertionError):
    pass


def no_network(*args: Any, **kwargs: Any) -> Any:
    raise NoNetwork(f"a test tried to reach the network: {args} {kwargs}")


@pytest.fixture
def weight_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Empty torch and Hugging Face caches in tmp_path, Hugging Face offline, every downloader disarmed
    (a test that needs one replaces it)."""
    import huggingface_hub
    import torch.hub
    from huggingface_hub import constants

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # get_dir() follows TORCH_HOME
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))  # as HF_HOME=tmp_path/hf
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    # hf_hub_download with local_files_only never connects; anything else must be faked by the test
    real = huggingface_hub.hf_hub_download

    def local_only(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("local_files_only"):
            no_network(*args, **kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", local_only)
    return {"torch": tmp_path / "torch" / "hub" / "checkpoints", "hf": tmp_path / "hf" / "hub"}


# -- recipes ------------------------------------------------------------------------------------------


def tiny_recipe(tmp_path: Path, fmnist_root: Path, **sections: Any) -> dict[str, Any]:
    """A recipe dict for a run that takes seconds; keyword sections replace (not merge) the defaults."""
    recipe: dict[str, Any] = {
        "name": "tiny",
        "seed": 0,
        "device": "cpu",
        "run": {"dir": str(tmp_path / "runs" / "tiny")},
        "data": {"type": "fashion_mnist", "root": str(fmnist_root), "val_size": 40},
        "degradation": {"type": "bicubic", "factor": 0.32},
        "teacher": {
            "type": "timm",
            "model": "test_resnet",
            "input_size": 28,
            "crop_pct": 1.0,
            "mean": [0.5],
            "std": [0.5],
            "interpolation": "bilinear",
        },
        "student": {"type": "rrdb", "num_feat": 8, "num_block": 1, "num_grow_ch": 4},
        "losses": [{"type": "logit_mse"}],
        "train": {
            "epochs": 1,
            "batch_size": 16,
            "max_steps_per_epoch": 2,
            "val_batch_size": 64,
            "log_every": 1,
            "optimizer": {"name": "adam", "lr": 1e-3},
        },
        "compare": {"batch_size": 64},
    }
    for key, value in sections.items():
        if value is None:
            recipe.pop(key, None)
        else:
            recipe[key] = value
    return recipe


@pytest.fixture(scope="session")
def make_recipe(fmnist_root: Path):
    """``make_recipe(folder, **sections) -> dict``: :func:`tiny_recipe` on the session's Fashion-MNIST."""

    def make(folder: Path, **sections: Any) -> dict[str, Any]:
        return tiny_recipe(folder, fmnist_root, **sections)

    return make


@pytest.fixture
def write_recipe(tmp_path: Path, fmnist_root: Path):
    """``write_recipe(**sections) -> Path``: a tiny recipe YAML in tmp_path (a section=None drops it)."""
    counter = iter(range(1_000_000))

    def write(filename: str | None = None, **sections: Any) -> Path:
        path = tmp_path / (filename or f"recipe_{next(counter)}.yaml")
        path.write_text(yaml.safe_dump(tiny_recipe(tmp_path, fmnist_root, **sections), sort_keys=False))
        return path

    return write


@pytest.fixture
def idx_writer():
    """``write_idx(path, uint8 array)``: write an IDX .gz file like Fashion-MNIST's."""
    return write_idx


# -- the command line ---------------------------------------------------------------------------------


class CLI:
    """Runs ``srdistill`` in-process with wide consoles, so rich does not wrap what tests look for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from rich.console import Console
        from typer.testing import CliRunner

        import srdistill.ui.console

        # consoles without a file write to whatever sys.stdout / sys.stderr is at print time
        monkeypatch.setattr(srdistill.ui.console, "out", Console(width=300, highlight=False))
        monkeypatch.setattr(srdistill.ui.console, "err", Console(width=300, stderr=True, highlight=False))
        self.runner = CliRunner()

    def __call__(self, *args: Any):
        from srdistill.cli import app

        return self.runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> CLI:
    """``cli("train", path, "--set", "train.epochs=1")`` → click's Result (stdout, stderr, exit_code)."""
    return CLI(monkeypatch)


def flat(text: str) -> str:
    """``text`` with rich panel borders removed and whitespace collapsed, for substring checks."""
    for ch in "│╭╮╰╯─":
        text = text.replace(ch, " ")
    return " ".join(text.split())


@pytest.fixture
def flatten():
    return flat


@pytest.fixture(scope="session")
def cli_class() -> type[CLI]:
    """The class behind the ``cli`` fixture, for fixtures of a wider scope: ``cli_class(monkeypatch)``."""
    return CLI


# -- real colour photos ---------------------------------------------------------------------------------

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-image's colour photos (shipped with it, no download), shrunk 4× so tests stay fast."""
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    for i, name in enumerate(PHOTOS):
        image = Image.fromarray(getattr(skimage_data, name)())
        image = image.resize((image.width // 4, image.height // 4), Image.Resampling.BICUBIC)
        image.save(folder / f"{name}.{'jpg' if i % 2 else 'png'}", **({"quality": 95} if i % 2 else {}))
    return folder
