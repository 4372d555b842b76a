"""Which samples each process reads, in an order that can be resumed mid-epoch."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochBatches(Sampler[list[int]]):
    """Batches of one process's shard of a shuffled epoch, resumable at any batch.

    The permutation of epoch ``e`` is ``randperm(n)`` under seed ``seed + e``, whatever the
    number of processes; process ``r`` of ``w`` takes positions ``r, r + w, ...``. So the
    samples of global batch ``k`` are the same with one process or several, and a run resumed
    at batch ``k`` reads exactly the batches it would have read. The last partial batch is
    dropped when shuffling (training) and kept otherwise: the samples dropped in an epoch are
    the last ``n mod batch`` of that epoch's permutation (and, with several processes, the last
    ``n mod world`` before it is dealt out), so they change from epoch to epoch and every sample
    is trained on over a few epochs.
    """

    def __init__(self, n: int, batch_size: int, *, shuffle: bool, seed: int = 0, rank: int = 0, world: int = 1) -> None:
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.rank, self.world = rank, world
        self.epoch = 0
        self.skip = 0

    def set_position(self, epoch: int, skip: int = 0) -> None:
        """The next iteration covers epoch ``epoch``, starting after its first ``skip`` batches."""
        self.epoch, self.skip = epoch, skip

    def _shard(self) -> list[int]:
        if self.shuffle:
            order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + self.epoch)).tolist()
        else:
            order = list(range(self.n))
        if self.shuffle and self.world > 1:  # equal shards: every process takes the same number of steps
            order = order[: self.n - self.n % self.world]
        return order[self.rank :: self.world]

    def batches(self) -> int:
        """Batches in a whole epoch of this shard."""
        size = len(self._shard())
        return size // self.batch_size if self.shuffle else -(-size // self.batch_size)

    def __len__(self) -> int:
        return max(0, self.batches() - self.skip)

    def __iter__(self) -> Iterator[list[int]]:
        shard = self._shard()
        for k in range(self.skip, self.batches()):
            yield shard[k * self.batch_size : (k + 1) * self.batch_size]
