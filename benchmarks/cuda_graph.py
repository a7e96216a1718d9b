"""The GPU goals of the Triton issue: SLIC and HSMix eager and in a CUDA graph (GPU only).

For each batch (``--cases B:SIZE``, RGB and grey) this times, in the same run:

- the torch SLIC alone (sync-free), eager and through the package's ``GraphCache`` (input
  copy, replay, a fresh label map), with the Triton kernels and with torch ops (the
  baseline);
- the whole HSMix forward (both branches, fine-grained saliency), eager and with
  ``cuda_graph=True`` (the built-in capture: eager draws, replay, fresh outputs), with the
  Triton kernels and with torch ops.

It checks that every replay gives exactly what an eager call with the same seed gives, and
prints median device times, the ratios to the torch-ops baseline, and the goals (SLIC under
1 ms in a graph and 2 ms eager, HSMix under 2 ms in a graph and 3 ms eager at B = 16, 224;
under 25 ms in a graph at B = 64, 512). The torch-ops baseline is timed at the smallest
case only (it takes seconds a call at B = 64, 512).

    python benchmarks/cuda_graph.py --cases 16:224 64:512
"""

from __future__ import annotations

import argparse
import sys
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
from hsmix_torch.cuda_graph import GraphCache  # noqa: E402
from hsmix_torch.superpixels import get_backend  # noqa: E402

GOALS = {  # (what, batch, size) -> (eager ms, graph ms)
    ("SLIC", 16, 224): (2.0, 1.0),
    ("HSMix", 16, 224): (3.0, 2.0),
    ("HSMix", 64, 512): (float("nan"), 25.0),
}


def device_ms(fn: Callable[[int], object], repeats: int) -> float:
    return time_ms(fn, torch.device("cuda"), repeats)


def _tensors(x: object) -> list[torch.Tensor]:
    return [t.clone() for t in (x if isinstance(x, tuple) else (x,))]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def bench_slic(images: torch.Tensor, kernels: str, repeats: int) -> dict[str, object]:
    slic = get_backend("torch", sync_free=True, kernels=kernels)
    n = torch.full((len(images),), 55, device=images.device)
    graphs = GraphCache()

    def segment(x: torch.Tensor, n: torch.Tensor) -> list[torch.Tensor | None]:
        return [slic(x, n, max_segments=80)]

    eager_ms = device_ms(lambda _s: segment(images, n), repeats)
    graph_ms = device_ms(lambda _s: graphs(segment, [images, n]), repeats)
    exact = _same(graphs(segment, [images, n]), segment(images, n))
    return {"eager_ms": eager_ms, "graph_ms": graph_ms, "replay_equals_eager": exact}


def bench_hsmix(
    images: torch.Tensor, masks: torch.Tensor, kernels: str, repeats: int
) -> dict[str, object]:
    kw = {"num_classes": 2, "validate": False, "kernels": kernels}
    eager, graphed = HSMix(**kw), HSMix(cuda_graph=True, **kw)

    def gen(seed: int) -> torch.Generator:
        return torch.Generator(device=images.device).manual_seed(seed)

    eager_ms = device_ms(lambda s: eager(images, masks, generator=gen(s)), repeats)
    graph_ms = device_ms(lambda s: graphed(images, masks, generator=gen(s)), repeats)
    exact = _same(
        _tensors(graphed(images, masks, generator=gen(7))),
        _tensors(eager(images, masks, generator=gen(7))),
    )
    return {"eager_ms": eager_ms, "graph_ms": graph_ms, "replay_equals_eager": exact}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--cases", nargs="+", default=["16:224", "64:512"], help="BATCH:SIZE")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("cuda_graph.py needs a CUDA device; nothing to do")
        return 0
    cases = [tuple(int(v) for v in c.split(":")) for c in args.cases]
    smallest = min(cases, key=lambda c: c[0] * c[1] ** 2)
    rows = []
    for batch, size in cases:
        for grey in (False, True):
            images, masks, source = real_batch(batch, size, grey=grey)
            images, masks = images.cuda(), masks.cuda()
            variants = ["triton", "torch"] if (batch, size) == smallest else ["triton"]
            for what in ("SLIC", "HSMix"):
                timed = {}
                for kernels in variants:
                    if what == "SLIC":
                        timed[kernels] = bench_slic(images, kernels, args.repeats)
                    else:
                        timed[kernels] = bench_hsmix(images, masks, kernels, args.repeats)
                goal_eager, goal_graph = GOALS.get((what, batch, size), (float("nan"),) * 2)
                for kernels, t in timed.items():
                    base = timed.get("torch", {})
                    rows.append(
                        {
                            "date": date.today().isoformat(),
                            "device": device_name(torch.device("cuda")),
                            "what": what,
                            "kernels": kernels,
                            "batch": batch,
                            "size": size,
                            "channels": "grey" if grey else "rgb",
                            "data": source,
                            **t,
                            "eager_vs_torch_ops_eager": base.get("eager_ms", float("nan"))
                            / t["eager_ms"],
                            "graph_vs_torch_ops_graph": base.get("graph_ms", float("nan"))
                            / t["graph_ms"],
                            "goal_eager_ms": goal_eager,
                            "goal_graph_ms": goal_graph,
                        }
                    )
    print(f"\nSLIC and HSMix on the GPU, eager and in a CUDA graph (median ms), {date.today()}")
    print_table(rows, list(rows[0]))
    write_csv(args.out / "cuda_graph.csv", rows)
    return 0 if all(r["replay_equals_eager"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
