"""Pack an ImageNet-style class-folder tree into WebDataset tar shards, with webdataset's ``ShardWriter``.

Each sample is three members: ``<key>.<ext>`` (the image file's bytes, not re-encoded),
``<key>.cls`` (the class index, as timm's and webdataset's readers expect) and ``<key>.json``
(class name and source path). Samples are shuffled across shards (each shard mixes classes, as
streaming readers need). ``ShardWriter`` writes each shard to a temporary file (its ``opener``) and
fsyncs it when done (its ``post``); the shards replace the old ones only once all are written, so a
failure leaves the previous set whole.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from srdistill.data.image_folder import scan_classes
from srdistill.data.shards import need_webdataset
from srdistill.errors import UserError

DIGITS = 6


@dataclass(frozen=True)
class Packed:
    prefix: Path
    shards: list[Path]
    samples: int
    classes: int

    @property
    def pattern(self) -> str:
        """The brace pattern naming every shard, for a recipe's data.train / data.val."""
        last = len(self.shards) - 1
        return f"{self.prefix}-{{{0:0{DIGITS}d}..{last:0{DIGITS}d}}}.tar" if last else str(self.shards[0])


def existing_shards(prefix: Path) -> list[Path]:
    """Shards already written with this prefix (``PREFIX-000000.tar`` …)."""
    if not prefix.parent.is_dir():
        return []
    pattern = re.compile(re.escape(prefix.name) + rf"-\d{{{DIGITS}}}\.tar")
    return sorted(p for p in prefix.parent.iterdir() if pattern.fullmatch(p.name))


def pack(
    source: Path,
    prefix: Path,
    *,
    max_count: int = 1000,
    max_bytes: int = 1 << 30,
    shuffle: bool = True,
    seed: int = 0,
    overwrite: bool = False,
    classes_from: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Packed:
    """Write ``source``'s images as ``prefix-000000.tar``, … (at most ``max_count`` images per shard; a
    shard is closed once it holds ``max_bytes``); ``progress(done, total)`` is called after each image.
    ``classes_from`` (the training split's folder) numbers the classes, so every split numbers them alike."""
    need_webdataset("srdistill shards")
    from webdataset import ShardWriter

    _outside(source, prefix)
    old = existing_shards(prefix)
    if old and not overwrite:
        raise UserError(
            f"{prefix.parent} already holds {len(old)} shards named {prefix.name}-*.tar; nothing was written.",
            "Pass --overwrite to replace them, or choose another OUT_PREFIX.",
        )
    samples, classes = scan_classes(source, training_classes(classes_from) if classes_from is not None else None)
    order = list(range(len(samples)))
    if shuffle:
        random.Random(seed).shuffle(order)
    try:
        prefix.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"Cannot create {prefix.parent}: {e.strerror}.", "Choose a writable OUT_PREFIX.") from None

    opened: dict[str, tuple[Path, BinaryIO]] = {}  # final name -> (temporary path, its file)

    def opener(final: str) -> BinaryIO:
        temporary = Path(final).with_name(f".{Path(final).name}.{os.getpid()}.tmp")
        opened[final] = (temporary, temporary.open("wb"))
        return opened[final][1]

    def post(final: str) -> None:  # the archive is closed: make it durable
        file = opened[final][1]
        file.flush()
        os.fsync(file.fileno())
        file.close()

    pattern = str(prefix).replace("%", "%%") + f"-%0{DIGITS}d.tar"
    try:
        # mtime 0 and encoder=False (bytes stored as they are): the same tree packs to the same bytes
        with ShardWriter(pattern, maxcount=max_count, maxsize=max_bytes, opener=opener, post=post, verbose=0,
                         encoder=False, mtime=0) as writer:  # fmt: skip
            for done, i in enumerate(order, 1):
                path, label = samples[i]
                try:
                    data = Path(path).read_bytes()
                except OSError as e:
                    raise UserError(f"Cannot read {path}: {e.strerror}.", "Fix its permissions or remove it.") from None
                ext = Path(path).suffix.lower().lstrip(".")
                meta = {"class": classes[label], "file": os.path.relpath(path, source)}
                writer.write({"__key__": f"{done - 1:09d}", "jpg" if ext == "jpeg" else ext: data,
                              "cls": str(label).encode(), "json": json.dumps(meta).encode()})  # fmt: skip
                if progress is not None:
                    progress(done, len(order))
    except BaseException:
        for temporary, file in opened.values():
            file.close()
            temporary.unlink(missing_ok=True)
        raise
    for final, (temporary, _) in opened.items():
        os.replace(temporary, final)
    finals = [Path(final) for final in opened]
    for stale in set(old) - set(finals):  # an earlier, longer set of shards
        stale.unlink()
    return Packed(prefix, finals, len(samples), len(classes))


def training_classes(folder: Path) -> dict[str, int]:
    """The class indices of the training split's folder (its class subfolders, sorted, as image folders number them)."""
    from torchvision.datasets.folder import find_classes

    try:
        return find_classes(str(folder))[1]
    except FileNotFoundError:
        raise UserError(
            f"--classes-from {folder} has no class subfolders.", "Name the training split's class-folder tree."
        ) from None


def _outside(source: Path, prefix: Path) -> None:
    """The source tree stays as it was: shards in it would mix with the images they pack, and a later
    ``--overwrite`` would delete files inside it."""
    src, out = source.resolve(), prefix.parent.resolve()
    if out == src or out.is_relative_to(src):
        raise UserError(
            f"The shards would be written inside the source folder {source} ({prefix.parent}).",
            f"Write them outside it, e.g. {src.parent / (src.name + '_shards') / prefix.name}.",
        )
