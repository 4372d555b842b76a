"""Training batches: which samples an epoch drops (the remainder of its own permutation), never the same ones."""

from __future__ import annotations

import pytest

from srdistill.engine.sampling import EpochBatches


@pytest.mark.parametrize("world", [1, 2, 4])
def test_the_dropped_samples_change_every_epoch_and_none_is_always_left_out(world: int) -> None:
    """270 samples in global batches of 16: 14 are dropped an epoch (the issue's shards case), not
    always the same: over 10 epochs every sample is trained on."""
    n, batch, epochs = 270, 16, 10
    dropped, seen_ever = [], set()
    for epoch in range(1, epochs + 1):
        seen = []
        for rank in range(world):
            sampler = EpochBatches(n, batch // world, shuffle=True, seed=5, rank=rank, world=world)
            sampler.set_position(epoch)
            seen += [i for b in sampler for i in b]
        assert len(seen) == len(set(seen)) == n - n % batch  # 256 read, each once
        dropped.append(frozenset(range(n)) - set(seen))
        seen_ever |= set(seen)
    assert all(len(d) == n % batch for d in dropped)
    assert len(set(dropped)) == epochs  # a different remainder every epoch
    assert seen_ever == set(range(n))


def test_evaluation_keeps_the_last_partial_batch() -> None:
    sampler = EpochBatches(270, 16, shuffle=False)
    assert [i for b in sampler for i in b] == list(range(270)) and sampler.batches() == 17
