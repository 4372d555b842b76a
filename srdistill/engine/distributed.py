"""Multi-process training on torch.distributed, launched by torchrun.

``torchrun --nproc_per_node=N -m srdistill train RECIPE`` sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; without them everything here is a single-process no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from srdistill.engine.devices import select_device
from srdistill.errors import UserError


@dataclass(frozen=True)
class Cluster:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Only the main process writes files and prints progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


#: the cluster of one process (no torchrun)
SINGLE = Cluster()


def from_env() -> Cluster:
    """The cluster torchrun describes in the environment (one process without torchrun)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Cluster()
    return Cluster(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def start(cluster: Cluster, device_name: str) -> torch.device:
    """Join the process group (NCCL on CUDA, gloo on CPU) and pick this process's device."""
    device_name = str(select_device(device_name))
    if not cluster.distributed:
        return torch.device(device_name)
    if device_name.startswith("cuda"):
        torch.cuda.set_device(cluster.local_rank)
        device = torch.device("cuda", cluster.local_rank)
        backend = "nccl"
    else:
        device, backend = torch.device(device_name), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, **_fresh_store(cluster))
    return device


def _fresh_store(cluster: Cluster) -> dict[str, object]:
    """Under torchrun, a key space of this restart's own in the agent's store.

    After ``--max-restarts`` restarts the workers, the agent's store still holds the previous
    round's connection keys, and a process that reaches ``init_process_group`` before its peers
    would read a dead peer's address. A prefix per restart keeps the rounds apart.
    """
    restart = os.environ.get("TORCHELASTIC_RESTART_COUNT")
    if restart is None or os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return {}
    store = dist.TCPStore(
        os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), cluster.world, is_master=False,
        timeout=timedelta(minutes=30),
    )  # fmt: skip
    prefixed = dist.PrefixStore(f"srdistill/restart-{restart}", store)
    return {"store": prefixed, "rank": cluster.rank, "world_size": cluster.world}


def stop(cluster: Cluster) -> None:
    if cluster.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: nn.Module, cluster: Cluster, device: torch.device) -> nn.Module:
    """``module`` in DistributedDataParallel when there are several processes.

    On CUDA its BatchNorm layers become SyncBatchNorm (in place), so a fitted teacher normalises
    over the global batch as one process would; PyTorch has no SyncBatchNorm on CPU.
    """
    if not cluster.distributed:
        return module
    if device.type == "cuda":
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def sum_all(values: torch.Tensor, cluster: Cluster) -> torch.Tensor:
    """Element-wise sum over the processes (a copy; the input is unchanged)."""
    if not cluster.distributed:
        return values
    out = values.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def any_all(flag: bool, cluster: Cluster, device: torch.device) -> bool:
    """True if ``flag`` is true on any process (all processes must call it)."""
    if not cluster.distributed:
        return flag
    return bool(sum_all(torch.tensor([float(flag)], device=device), cluster).item() > 0)


def per_process_batch(batch_size: int, cluster: Cluster) -> int:
    """``train.batch_size`` is the global batch; each process takes an equal share."""
    if batch_size % cluster.world:
        raise UserError(
            f"train.batch_size={batch_size} does not split evenly over {cluster.world} processes.",
            f"Use a multiple of {cluster.world}.",
        )
    return batch_size // cluster.world
