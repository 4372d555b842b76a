"""WebDataset tar shards, read by random access: ``<key>.jpg`` (or any image type) + ``<key>.cls`` per sample.

Each shard is indexed once (:mod:`srdistill.data.shard_index`) and then read like an image
folder: item ``i`` is one ``pread`` from its shard. So the data set is map-style, and training's
batch sampler gives every process and loader worker its own samples (each sample once per epoch)
and resumes mid-epoch exactly, as with image folders. Shards named by a URL (anything
``webdataset.gopen`` opens: ``pipe:``, ``http(s)``, ``gs``, ``hf``…) are first copied into
``cache_dir``; ``file://`` URLs and paths are read in place. Needs webdataset (the ``shards`` extra).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

import numpy as np
import torch
from PIL import Image
from pydantic import Field
from torch.utils.data import Dataset

from srdistill.data.base import DataInfo, DatasetConfig, Splits, labelled_splits
from srdistill.data.image_folder import class_names, decode
from srdistill.data.shard_index import ShardIndex, index_shard
from srdistill.errors import UserError

#: shard files kept open per process; each is reopened on demand (a long list must not exhaust fds)
OPEN_FILES = 64


def need_webdataset(what: str) -> None:
    """A clear error when webdataset (which brings braceexpand) is not installed."""
    try:
        import webdataset  # noqa: F401
    except ImportError:
        raise UserError(
            f"{what} needs the webdataset package, which is not installed.",
            "pip install 'srdistill[shards]' (or pip install webdataset).",
        ) from None


class ShardsConfig(DatasetConfig):
    """WebDataset tar shards (paths or URLs, {000..009} ranges), packed by `srdistill shards`."""

    type: Literal["shards"]
    train: str | list[str] = Field(description="Training shards: a path or URL, {a..b} ranges allowed, or a list.")
    val: str | list[str] = Field(description="Validation shards (split into validation and test if test is unset).")
    test: str | list[str] | None = Field(None, description="Test shards; if unset, val is split in two halves.")
    train_fraction: float = Field(1.0, gt=0, le=1, description="Class-balanced share of the training shards to use.")
    val_fraction: float = Field(0.5, gt=0, lt=1, description="Share of val used for validation when test is unset.")
    hr_size: int = Field(256, ge=8, description="Side of the square originals (resize shorter side, centre crop).")
    channels: Literal[1, 3] = Field(3, description="3 for RGB, 1 for greyscale.")
    seed: int = Field(0, description="Seed of the subset and of the validation/test split.")
    jpeg_draft: bool = Field(True, description="Decode large JPEGs at reduced scale when that still covers hr_size.")
    # a str, not a Path: the folder is made on first use, so it need not exist beforehand
    cache_dir: str | None = Field(
        None, description="Shard indexes and fetched URL shards; default $XDG_CACHE_HOME/srdistill/shards."
    )


# -- naming shards ------------------------------------------------------------------------------------


def expand(spec: str | list[str]) -> list[str]:
    """Shard names of a spec: each ``{a..b}`` (zero padding kept) and ``{x,y}`` expanded, in order
    (webdataset's own brace expansion, the ``braceexpand`` package)."""
    need_webdataset("The shards data set")
    from braceexpand import UnbalancedBracesError, braceexpand

    out: list[str] = []
    for item in [spec] if isinstance(spec, str) else spec:
        try:
            names = list(braceexpand(item))
        except UnbalancedBracesError:
            names = [item]
        if any("{" in n or "}" in n for n in names):
            raise UserError(f"Cannot expand the braces in shard name {item}.", "Use {000000..000099} or {a,b}.")
        out.extend(names)
    return out


def is_url(name: str) -> bool:
    return name.startswith("pipe:") or "://" in name


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "srdistill" / "shards"


def local_copy(name: str, cache: Path) -> Path:
    """A local path to read shard ``name`` from: the path itself, or a copy fetched into ``cache``."""
    if not is_url(name):
        return Path(name)
    parsed = urlparse(name)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(parsed.path or name).name)[-80:] or "shard.tar"
    target = cache / "fetched" / f"{hashlib.sha256(name.encode()).hexdigest()[:16]}-{base}"
    if not target.is_file():
        _fetch(name, target)
    return target


def _fetch(url: str, target: Path) -> None:
    # webdataset.cache.download would do, but it leaves its temporary file behind when a fetch
    # fails and does not fsync: a killed copy must never pass for a whole shard
    from webdataset import gopen

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with gopen(url, "rb") as src, tmp.open("wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, target)  # whole or not at all, even with several processes fetching
    except Exception as e:  # gopen raises OSError, ValueError and its schemes' own errors
        tmp.unlink(missing_ok=True)
        raise UserError(
            f"Could not fetch shard {url}: {e}",
            "Check the URL (webdataset.gopen opens it: pipe:CMD, http(s)://, gs://, ...) or use a local path.",
        ) from None


# -- reading ------------------------------------------------------------------------------------------


class ShardImages(Dataset):
    """The samples of some shards, decoded and cropped to ``hr_size`` on access.

    Per-sample facts are numpy arrays (no Python objects per sample), so loader workers share
    them with the parent instead of copying them as their reference counts change.
    """

    def __init__(self, indexes: list[ShardIndex], hr_size: int, channels: int, draft: bool = True) -> None:
        self.paths = [ix.path for ix in indexes]
        self.shard = np.concatenate([np.full(len(ix.keys), s, dtype=np.int32) for s, ix in enumerate(indexes)])
        self.offsets = np.concatenate([np.asarray(ix.offsets, dtype=np.int64) for ix in indexes])
        self.sizes = np.concatenate([np.asarray(ix.sizes, dtype=np.int64) for ix in indexes])
        self.labels = np.concatenate([np.asarray(ix.labels, dtype=np.int64) for ix in indexes])
        self.keys = np.array([k.encode() for ix in indexes for k in ix.keys], dtype=np.bytes_)
        self.hr_size, self.mode, self.draft = hr_size, "RGB" if channels == 3 else "L", draft
        self._files: OrderedDict[int, int] = OrderedDict()
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def targets(self) -> list[int]:
        return self.labels.tolist()

    def name(self, i: int) -> str:
        return f"{self.paths[self.shard[i]]}:{self.keys[i].decode()}"

    def __getitem__(self, i: int) -> tuple[torch.Tensor | None, int | str]:
        """``(uint8 image, label)``, or ``(None, shard:member)`` for an image that cannot be decoded whole."""
        data = os.pread(self._fd(int(self.shard[i])), int(self.sizes[i]), int(self.offsets[i]))
        if len(data) != self.sizes[i]:
            return None, self.name(i)  # the shard shrank since it was indexed
        try:
            return decode(io.BytesIO(data), self.hr_size, self.mode, self.draft), int(self.labels[i])
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            return None, self.name(i)

    def _fd(self, shard: int) -> int:
        if self._pid != os.getpid():  # a forked loader worker opens its own files
            self._files, self._pid = OrderedDict(), os.getpid()
        fd = self._files.get(shard)
        if fd is None:
            fd = os.open(self.paths[shard], os.O_RDONLY)
            self._files[shard] = fd
            if len(self._files) > OPEN_FILES:
                os.close(self._files.popitem(last=False)[1])
        else:
            self._files.move_to_end(shard)
        return fd

    def __getstate__(self) -> dict[str, Any]:  # spawned workers open their own files
        return {**self.__dict__, "_files": OrderedDict(), "_pid": -1}

    def __del__(self) -> None:
        try:
            if self._pid == os.getpid():
                for fd in self._files.values():
                    os.close(fd)
        except (AttributeError, OSError, TypeError):
            pass  # half-built, or at interpreter exit


# -- the data set -------------------------------------------------------------------------------------


def load_shards(spec: str | list[str], cache: Path, what: str) -> list[ShardIndex]:
    """The indexes of the shards ``spec`` names (URLs fetched first); ``what`` is the split, for errors."""
    names = expand(spec)
    if not names:
        raise UserError(f"data.{what} names no shards.", f"Set data.{what} to a shard path, pattern or list.")
    return [index_shard(local_copy(n, cache), cache, n) for n in names]


def build_shards(cfg: ShardsConfig) -> Splits:
    cache = Path(cfg.cache_dir) if cfg.cache_dir else default_cache()
    found: dict[str, list[ShardIndex]] = {}
    for what in ("train", "val", "test"):
        spec = getattr(cfg, what)
        if spec is not None:
            found[what] = load_shards(spec, cache, what)
    named: dict[int, str] = {}
    for what, indexes in found.items():  # one name per label in every split, or the splits were numbered apart
        for label, name in ((label, name) for ix in indexes for label, name in ix.classes.items()):
            if named.setdefault(label, name) != name:
                raise UserError(
                    f"data.{what}: class {label} is '{name}' there but '{named[label]}' in data.train: the splits "
                    "were packed with classes numbered apart (a split lacking a class shifts the rest).",
                    "Pack every split with the training split's classes: srdistill shards VAL_FOLDER PREFIX "
                    "--classes-from TRAIN_FOLDER.",
                )
    train_labels = {label for ix in found["train"] for label in ix.labels}
    num_classes = max(train_labels) + 1
    for what, indexes in found.items():
        outside = sorted({label for ix in indexes for label in ix.labels if not 0 <= label < num_classes})
        if outside:
            raise UserError(
                f"data.{what} has samples of classes {outside[:5]} that the training shards lack "
                f"(their classes are 0..{num_classes - 1}).",
                "Pack every split from folders with the same class subfolders.",
            )

    def make(what: str) -> ShardImages:
        return ShardImages(found[what], cfg.hr_size, cfg.channels, cfg.jpeg_draft)

    test_all = make("test") if cfg.test is not None else None
    train, val, test = labelled_splits(make("train"), make("val"), test_all, cfg.train_fraction, cfg.val_fraction,
                                       cfg.seed, "data.val")  # fmt: skip
    names = [named.get(label, str(label)) for label in range(num_classes)]
    info = DataInfo(cfg.channels, num_classes, (cfg.hr_size, cfg.hr_size), class_names(names))
    return Splits(train=train, val=val, test=test, info=info)
