"""Which samples each process reads: the same global batches with one process or several, resumable mid-epoch."""

from __future__ import annotations

from srdistill.engine.sampling import EpochBatches


def test_the_shards_of_a_global_batch_are_the_single_process_batch() -> None:
    one = list(EpochBatches(50, 8, shuffle=True, seed=3))
    two = [list(EpochBatches(50, 4, shuffle=True, seed=3, rank=r, world=2)) for r in range(2)]
    assert len(one) == len(two[0]) == len(two[1]) == 6
    for k, batch in enumerate(one):
        assert sorted(batch) == sorted(two[0][k] + two[1][k])


def test_validation_shards_cover_every_sample_once() -> None:
    shards = [list(EpochBatches(11, 4, shuffle=False, rank=r, world=3)) for r in range(3)]
    seen = sorted(i for shard in shards for batch in shard for i in batch)
    assert seen == list(range(11))


def test_a_resumed_epoch_reads_the_batches_it_would_have_read() -> None:
    whole = EpochBatches(40, 8, shuffle=True, seed=1)
    whole.set_position(epoch=2)
    resumed = EpochBatches(40, 8, shuffle=True, seed=1)
    resumed.set_position(epoch=2, skip=3)
    assert list(resumed) == list(whole)[3:] and len(resumed) == 2
    other_epoch = EpochBatches(40, 8, shuffle=True, seed=1)
    other_epoch.set_position(epoch=3)
    assert list(other_epoch) != list(whole)  # each epoch its own order


def test_training_drops_the_last_partial_batch_and_evaluation_keeps_it() -> None:
    assert [len(b) for b in EpochBatches(10, 4, shuffle=True)] == [4, 4]
    assert [len(b) for b in EpochBatches(10, 4, shuffle=False)] == [4, 4, 2]
