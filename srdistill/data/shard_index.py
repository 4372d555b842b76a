"""Where each sample of a WebDataset tar shard lies: the byte offset and size of its image, and its label.

A shard is scanned once (member headers only: images are skipped over, ``.cls`` and ``.json`` are
read) and the index is cached as JSON, keyed by the shard's path, size and modification time.

Why not ``wids`` (webdataset's indexed reader), which also reads samples by offset: it needs each
shard's sample count before it opens the shard, walks every shard's headers again in each process
and worker instead of caching the index, reads labels only by reading whole samples (every image
of the data set at start-up, for the class-balanced splits), takes member names from the 100-byte
ustar field (a PAX long name is cut), does not notice a truncated shard, prints to stderr on every
data set it builds, and its non-mmap index is a pickle kept beside the shard (unpickled on open).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from srdistill.data.image_folder import image_extensions
from srdistill.errors import UserError

INDEX_VERSION = 1
#: webdataset's sample key: the member's folder and name up to the first dot of the name
KEY = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")
FIX = "Re-create the shard (e.g. with `srdistill shards`), or leave it out of the shard list."


@dataclass(frozen=True)
class ShardIndex:
    """Where each sample's image lies in one shard, and its label."""

    path: str
    keys: list[str]
    offsets: list[int]
    sizes: list[int]
    labels: list[int]
    classes: dict[int, str]  # label -> class name, where the shard names it


def index_shard(path: Path, cache: Path, name: str) -> ShardIndex:
    """The index of the shard at ``path`` (``name`` is what the recipe called it), cached by path, size, mtime."""
    stat = _stat(path, name)
    ident = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{INDEX_VERSION}"
    cached = cache / "index" / f"{hashlib.sha256(ident.encode()).hexdigest()[:24]}.json"
    if cached.is_file():
        try:
            data = json.loads(cached.read_text(encoding="utf-8"))
            return ShardIndex(str(path), *(data[k] for k in ("keys", "offsets", "sizes", "labels")),
                              classes={int(k): v for k, v in data["classes"].items()})  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged cache entry is rebuilt
    try:
        index = _scan_tar(path, name, stat.st_size)
    except OSError as e:
        raise UserError(f"Cannot read shard {name}: {e.strerror or e}.", "Check the file's permissions.") from None
    _write_json(cached, {k: v for k, v in asdict(index).items() if k != "path"})
    return index


def _stat(path: Path, name: str) -> os.stat_result:
    """The shard file's ``stat``; a clear error for a missing path or a folder."""
    shown = name + (f" (read from {path})" if str(path) != name else "")
    fix = "Fix the shard list in the recipe (data.train / data.val / data.test), or pack the shards with "
    if path.is_dir():
        tars = sorted(p.name for p in path.glob("*.tar"))
        held = f"it holds {len(tars)} .tar files ({tars[0]}, …)" if tars else "it holds no .tar files"
        example = f"{path}/train-{{000000..000009}}.tar"
        raise UserError(f"Shard {shown} is a folder, not a tar file; {held}.",
                        f"Name the shard files, e.g. {example}; {fix}`srdistill shards`.")  # fmt: skip
    try:
        return path.stat()
    except OSError:
        raise UserError(f"Shard not found: {shown}", f"{fix}`srdistill shards`.") from None


def _scan_tar(path: Path, name: str, file_size: int) -> ShardIndex:
    with path.open("rb") as f:
        if f.read(2) == b"\x1f\x8b":
            raise UserError(f"Shard {name} is gzip-compressed; shards are read by random access.", "gunzip it.")
    members: dict[str, dict[str, Any]] = {}
    images = set(image_extensions())
    try:
        with tarfile.open(path, mode="r:") as tar:
            for info in tar:
                match = KEY.match(info.name)
                if not info.isfile() or match is None:
                    continue
                key, ext = match.group(1), match.group(2).lower()
                if info.offset_data + info.size > file_size:
                    raise UserError(f"Shard {name} is truncated: {info.name} runs past the end of the file.", FIX)
                sample = members.setdefault(key, {})
                if f".{ext}" in images:
                    sample["image"] = (info.offset_data, info.size, info.name)
                elif ext in ("cls", "json"):
                    sample[ext] = tar.extractfile(info).read()  # type: ignore[union-attr]
    except tarfile.TarError as e:
        raise UserError(f"Shard {name} is not a readable tar file ({e}).", FIX) from None
    index = ShardIndex(str(path), [], [], [], [], {})
    for key, sample in members.items():
        if "image" not in sample and "cls" not in sample:
            continue  # another kind of member (e.g. text only): not a sample of ours
        if "image" not in sample or "cls" not in sample:
            missing = "an image" if "image" not in sample else "a .cls label"
            raise UserError(f"Sample {key} in shard {name} lacks {missing}.", FIX)
        try:
            label = int(sample["cls"].decode().strip())
        except ValueError:
            raise UserError(f"Sample {key} in shard {name}: its .cls is not a class index.", FIX) from None
        offset, size, member = sample["image"]
        index.keys.append(member)
        index.offsets.append(offset)
        index.sizes.append(size)
        index.labels.append(label)
        class_name = _class_name(sample.get("json"))
        if class_name is not None:
            index.classes[label] = class_name
    if not index.keys:
        raise UserError(f"Shard {name} holds no samples (<key>.<image type> with <key>.cls).", FIX)
    return index


def _class_name(meta: bytes | None) -> str | None:
    try:
        found = json.loads(meta).get("class") if meta is not None else None
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only costs indexing again next time
