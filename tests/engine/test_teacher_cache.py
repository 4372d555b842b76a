"""The teacher-logit cache: filled on first sight, reused after, refused where it cannot be right."""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from safetensors.torch import load_file

from srdistill.data.base import Indexed, collate
from srdistill.engine.teacher_cache import LogitCache


def test_cache_returns_what_was_put_only_when_every_image_is_known() -> None:
    cache = LogitCache(10, torch.device("cpu"))
    assert cache.get(torch.tensor([1, 2])) is None
    logits = torch.randn(3, 5)
    cache.put(torch.tensor([7, 1, 4]), logits)
    assert torch.equal(cache.get(torch.tensor([4, 7])), logits[[2, 0]])
    assert cache.get(torch.tensor([4, 5])) is None  # 5 not seen yet


def test_indexed_items_collate_with_their_indices() -> None:
    zeros, ones = torch.zeros(1, 2, 2, dtype=torch.uint8), torch.ones(1, 2, 2, dtype=torch.uint8)
    data = [(zeros, 3), (None, "bad.jpg"), (ones, 5)]
    batch = collate([Indexed(data)[i] for i in range(3)])  # type: ignore[arg-type]
    assert len(batch) == 4
    images, labels, bad, index = batch
    assert images.shape == (2, 1, 2, 2)
    assert labels.tolist() == [3, 5] and bad == ["bad.jpg"] and index.tolist() == [0, 2]
    assert len(collate(data)) == 3  # plain items: no indices


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_cached_teacher_trains_like_the_uncached_one(cli, write_recipe, tmp_path, monkeypatch) -> None:
    from srdistill.engine.teacher_cache import LogitCache as Cache

    calls = {"get_hits": 0}
    original_get = Cache.get

    def counting_get(self, index):  # type: ignore[no-untyped-def]
        out = original_get(self, index)
        calls["get_hits"] += out is not None
        return out

    monkeypatch.setattr(Cache, "get", counting_get)
    train = {"epochs": 2, "batch_size": 16, "max_steps_per_epoch": None, "val_batch_size": 64,
             "scheduler": {"name": "none"}, "optimizer": {"name": "adam", "lr": 1e-3}}  # fmt: skip
    runs = {}
    for cached in (False, True):
        folder = f"run_{cached}"
        recipe = write_recipe(train=train, run={"dir": str(tmp_path / folder)}, runtime={"cache_teacher": cached})
        result = cli("train", recipe)
        assert result.exit_code == 0, result.output
        runs[cached] = load_file(str(tmp_path / folder / "last.safetensors"))
    steps = len(read_csv(tmp_path / "run_True" / "metrics.csv"))
    assert steps == 2 and calls["get_hits"] > 0  # epoch 2 was served from the cache
    for name, value in runs[False].items():
        torch.testing.assert_close(runs[True][name], value, rtol=1e-4, atol=1e-6)


def test_cache_with_a_feature_loss_is_refused(cli, write_recipe, flatten) -> None:
    recipe = write_recipe(runtime={"cache_teacher": True}, losses=[{"type": "feature", "layers": ["layer1"]}])
    result = cli("train", recipe)
    assert result.exit_code == 1
    assert "runtime.cache_teacher keeps the teacher's logits" in flatten(result.stderr)
