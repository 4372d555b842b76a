"""Pack an ImageNet-style class-folder tree into WebDataset tar shards.

Each sample is three members: ``<key>.<ext>`` (the image file's bytes, not re-encoded),
``<key>.cls`` (the class index, as timm's and webdataset's readers expect) and ``<key>.json``
(class name and source path). Samples are shuffled across shards (each shard mixes classes, as
streaming readers need). Every shard is written to a temporary file first; they replace the
old shards only once all are written, so a failure leaves the previous set whole.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from srdistill.data.image_folder import scan_classes
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
    progress: Callable[[int, int], None] | None = None,
) -> Packed:
    """Write ``source``'s images as ``prefix-000000.tar``, … (at most ``max_count`` images or about
    ``max_bytes`` per shard); ``progress(done, total)`` is called after each image."""
    old = existing_shards(prefix)
    if old and not overwrite:
        raise UserError(
            f"{prefix.parent} already holds {len(old)} shards named {prefix.name}-*.tar; nothing was written.",
            "Pass --overwrite to replace them, or choose another OUT_PREFIX.",
        )
    samples, classes = scan_classes(source)
    order = list(range(len(samples)))
    if shuffle:
        random.Random(seed).shuffle(order)
    try:
        prefix.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"Cannot create {prefix.parent}: {e.strerror}.", "Choose a writable OUT_PREFIX.") from None

    written: list[tuple[Path, Path]] = []  # (temporary, final)
    shard: _Shard | None = None
    count = size = 0
    try:
        for done, i in enumerate(order, 1):
            path, label = samples[i]
            try:
                data = Path(path).read_bytes()
            except OSError as e:
                raise UserError(f"Cannot read {path}: {e.strerror}.", "Fix its permissions or remove it.") from None
            if shard is None or count >= max_count or (count and size + len(data) > max_bytes):
                if shard is not None:
                    shard.close()
                final = prefix.with_name(f"{prefix.name}-{len(written):0{DIGITS}d}.tar")
                temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
                written.append((temporary, final))
                shard, count, size = _Shard(temporary), 0, 0
            key = f"{done - 1:09d}"
            ext = Path(path).suffix.lower().lstrip(".")
            meta = {"class": classes[label], "file": os.path.relpath(path, source)}
            shard.add(f"{key}.{'jpg' if ext == 'jpeg' else ext}", data)
            shard.add(f"{key}.cls", str(label).encode())
            shard.add(f"{key}.json", json.dumps(meta).encode())
            count, size = count + 1, size + len(data)
            if progress is not None:
                progress(done, len(order))
        if shard is not None:
            shard.close()
    except BaseException:
        if shard is not None:
            shard.file.close()
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, final in written:
        os.replace(temporary, final)
    finals = [final for _, final in written]
    for stale in set(old) - set(finals):  # an earlier, longer set of shards
        stale.unlink()
    return Packed(prefix, finals, len(samples), len(classes))


class _Shard:
    """One tar file being written; ``close`` ends the archive and flushes it to disk."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("wb")
        self.tar = tarfile.TarFile(fileobj=self.file, mode="w", format=tarfile.PAX_FORMAT)

    def add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o444, 0  # the same tree packs to the same bytes
        self.tar.addfile(info, io.BytesIO(data))

    def close(self) -> None:
        self.tar.close()  # the end-of-archive blocks
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
