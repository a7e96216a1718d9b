"""Distributed data parallel use: each rank augments its own shard with its own generator.

Two gloo processes on this machine. HSMix needs no collective call; ranks produce different
mixes, and a rank's result does not depend on the other rank (it equals the same call made
alone in this process).
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hsmix_torch import HSMix


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _shard(rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + rank)
    return torch.rand(4, 3, 32, 32, generator=g), torch.randint(0, 2, (4, 32, 32), generator=g)


def _mix(rank: int) -> torch.Tensor:
    images, masks = _shard(rank)
    aug = HSMix(n_segments=(6, 12), superpixels="grid", num_classes=2)
    return aug(images, masks, generator=torch.Generator().manual_seed(rank))[0]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.save(_mix(rank), os.path.join(out_dir, f"rank{rank}.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_two_ranks_mix_their_own_shards(tmp_path) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt")
    r1 = torch.load(tmp_path / "rank1.pt")
    assert r0.shape == r1.shape == (8, 3, 32, 32)
    assert not torch.equal(r0, r1)
    assert torch.equal(r0, _mix(0)) and torch.equal(r1, _mix(1))
