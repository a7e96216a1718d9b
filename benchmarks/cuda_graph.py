"""HSMix and the torch SLIC captured in a CUDA graph: eager vs graph replay (GPU only).

The GPU path has no host synchronisation and fixed shapes for fixed inputs, so one whole
call can be captured once and replayed every step. This script captures (1) the torch SLIC
backend alone, eager and ``fused`` (compiled assignment), and (2) the whole HSMix forward
(``superpixels="auto"``: sync-free torch SLIC, fine-grained saliency, both branches; and the
same with the fused SLIC), checks that a replay gives exactly what an eager call
gives for the same seed of the device's default generator, and prints median device times.
With ``--compile`` it also times ``torch.compile(aug)`` (compile time and steady state).

    python benchmarks/cuda_graph.py --batch-sizes 16 64 --sizes 224 512
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    OUT,
    device_name,
    print_table,
    real_batch,
    time_ms,
    write_csv,
)
from hsmix_torch import HSMix  # noqa: E402
from hsmix_torch.superpixels import get_backend  # noqa: E402


def capture(fn: Callable[[], object], warmup: int = 3) -> tuple[torch.cuda.CUDAGraph, object]:
    """Warm ``fn`` up on a side stream (caches, allocator), then capture one call."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph, out


def device_ms(fn: Callable[[], object], repeats: int) -> float:
    return time_ms(lambda _seed: fn(), torch.device("cuda"), repeats)


def seeded(fn: Callable[[], object], seed: int) -> Callable[[], object]:
    def call() -> object:
        torch.cuda.manual_seed(seed)
        return fn()

    return call


def _tuple(x: object) -> tuple[torch.Tensor, ...]:
    return tuple(t.clone() for t in (x if isinstance(x, tuple) else (x,)))


def bench(batch: int, size: int, repeats: int, compile_: bool) -> list[dict[str, object]]:
    images, masks, source = real_batch(batch, size)
    images, masks = images.cuda(), masks.cuda()
    slic = get_backend("torch", sync_free=True)
    fused = get_backend("torch", sync_free=True, fused=True)
    aug = HSMix(superpixels="auto", num_classes=2, validate=False)
    aug_fused = HSMix(superpixels=fused, num_classes=2, validate=False)
    n = torch.full((batch,), 55, device="cuda")
    cases = {
        "torch SLIC": lambda: slic(images, n, max_segments=80),
        "torch SLIC fused": lambda: fused(images, n, max_segments=80),
        "HSMix (auto)": lambda: aug(images, masks),
        "HSMix (fused SLIC)": lambda: aug_fused(images, masks),
    }
    t0 = time.perf_counter()
    same = (fused(images, n, max_segments=80) == slic(images, n, max_segments=80)).float().mean()
    print(
        f"B={batch} {size}: fused vs eager SLIC labels identical on {100 * float(same):.3f} % "
        f"of pixels (first fused call, compile included: {time.perf_counter() - t0:.1f} s)"
    )
    rows = []
    for name, fn in cases.items():
        eager_ms = device_ms(fn, repeats)
        graph, static_out = capture(fn)  # seeding is not allowed while capturing
        graph_ms = device_ms(graph.replay, repeats)
        # Same seed of the default generator: the replay must give the eager result exactly.
        torch.cuda.manual_seed(7)
        graph.replay()
        replayed = _tuple(static_out)
        eager = _tuple(seeded(fn, 7)())
        exact = all(torch.equal(a, b) for a, b in zip(replayed, eager, strict=True))
        row = {
            "date": date.today().isoformat(),
            "device": device_name(torch.device("cuda")),
            "what": name,
            "batch": batch,
            "size": size,
            "data": source,
            "eager_ms": eager_ms,
            "graph_ms": graph_ms,
            "graph_speedup": eager_ms / graph_ms,
            "replay_equals_eager": exact,
            "compile_s": float("nan"),
            "compiled_ms": float("nan"),
        }
        rows.append(row)
    if compile_:
        compiled = torch.compile(aug)
        t0 = time.perf_counter()
        compiled(images, masks)
        torch.cuda.synchronize()
        rows[-1]["compile_s"] = time.perf_counter() - t0
        rows[-1]["compiled_ms"] = device_ms(lambda: compiled(images, masks), repeats)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64])
    p.add_argument("--sizes", type=int, nargs="+", default=[224])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--compile", action="store_true", help="also time torch.compile(aug)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("cuda_graph.py needs a CUDA device; nothing to do")
        return 0
    rows = []
    for size in args.sizes:
        for batch in args.batch_sizes:
            rows += bench(batch, size, args.repeats, args.compile)
    print(f"\nCUDA graph capture vs eager (median device ms), {date.today()}")
    print_table(rows, list(rows[0]))
    write_csv(args.out / "cuda_graph.csv", rows)
    return 0 if all(r["replay_equals_eager"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
