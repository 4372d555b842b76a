"""Run under torchrun by test_shards.py: which shard samples each process reads, epoch by epoch.

Usage: shard_coverage.py DATA_YAML OUT_DIR. Builds the `shards` data set from DATA_YAML, reads two
training epochs and the validation split through the trainer's loaders (2 workers each), and
writes OUT_DIR/rank<r>.json with the names of the samples this process received.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import yaml
from torch.utils.data import get_worker_info

from srdistill.data.shards import ShardsConfig, build_shards
from srdistill.engine import distributed
from srdistill.engine.loaders import make_loader


class Named(torch.utils.data.Dataset):
    """Items are ``(None, "shard:member#worker")`` once the image is decoded: the loader's collate
    lists such items by name (as it does unreadable images), so each batch carries its names."""

    def __init__(self, subset) -> None:  # type: ignore[no-untyped-def]
        self.subset = subset

    def __len__(self) -> int:
        return len(self.subset)

    def __getitem__(self, i: int):  # type: ignore[no-untyped-def]
        subset = self.subset
        base, index = (subset.dataset, subset.indices[i]) if hasattr(subset, "indices") else (subset, i)
        image, _ = base[index]
        if image is None:
            raise RuntimeError(f"{base.name(index)} did not decode")
        worker = get_worker_info()
        return None, f"{base.name(index)}#{worker.id if worker else -1}"


def names(loader) -> list[str]:  # type: ignore[no-untyped-def]
    return [name for batch in loader for name in batch[2]]


def main() -> None:
    spec, out = Path(sys.argv[1]), Path(sys.argv[2])
    cluster = distributed.from_env()
    device = distributed.start(cluster, "cpu")
    splits = build_shards(ShardsConfig.model_validate(yaml.safe_load(spec.read_text())))

    def loader(dataset, shuffle: bool, batch: int):  # type: ignore[no-untyped-def]
        named = Named(dataset)
        return make_loader(named, batch, device=device, shuffle=shuffle, num_workers=2, cluster=cluster)

    seen: dict[str, dict[str, list[str]]] = {"train": {}, "val": {}}
    workers: list[str] = []
    train = loader(splits.train, True, 3)
    val = loader(splits.val, False, 4)
    for epoch in (1, 2):
        train.batch_sampler.set_position(epoch)
        got = names(train)
        workers += [n.rsplit("#", 1)[1] for n in got]
        seen["train"][str(epoch)] = [n.rsplit("#", 1)[0] for n in got]
        seen["val"][str(epoch)] = [n.rsplit("#", 1)[0] for n in names(val)]
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rank{cluster.rank}.json").write_text(json.dumps({**seen, "workers": workers}))
    distributed.stop(cluster)


if __name__ == "__main__":
    main()
