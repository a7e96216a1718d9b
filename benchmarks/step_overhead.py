"""Overhead of HSMix in a U-Net training step: the step with and without it, same run.

A training step as users write it: move the batch to the device, augment (or not), forward,
soft Dice + cross-entropy loss, backward, optimiser step. Without HSMix the model sees the
B inputs (one-hot masks); with it, the 2B mixed samples, so the step itself also costs
more. Reported: the augmentation's own time (median) as a percentage of the plain step,
and the whole-step ratio.

    python benchmarks/step_overhead.py --device cuda --batch-size 16 --size 224
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import device_name, pick_device, print_table, real_batch, time_ms  # noqa: E402
from benchmarks.unet import UNet, soft_dice_ce_loss  # noqa: E402
from hsmix_torch import HSMix  # noqa: E402
from hsmix_torch.superpixels import get_backend  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--backend", default="auto")
    p.add_argument("--fused", action="store_true", help='sync-free "torch" backend, fused=True')
    p.add_argument("--kernels", default="auto", choices=("auto", "triton", "torch"))
    p.add_argument(
        "--cuda-graph", action="store_true", help="HSMix(cuda_graph=True): replayed forward"
    )
    args = p.parse_args(argv)
    device = pick_device(args.device)
    images, masks, source = real_batch(args.batch_size, args.size)
    images, masks = images.to(device), masks.to(device)
    onehot = torch.nn.functional.one_hot(masks, 2).permute(0, 3, 1, 2).float()
    model = UNet().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    backend = get_backend("torch", sync_free=True, fused=True) if args.fused else args.backend
    aug = HSMix(
        superpixels=backend,
        num_classes=2,
        validate=False,
        kernels=args.kernels,
        cuda_graph=args.cuda_graph and device.type == "cuda",
    )

    def step(x, y) -> None:
        opt.zero_grad(set_to_none=True)
        soft_dice_ce_loss(model(x), y).backward()
        opt.step()

    def gen(seed: int) -> torch.Generator:
        return torch.Generator(device=device).manual_seed(seed)

    mixed, mixed_masks = aug(images, masks, generator=gen(0))
    plain_ms = time_ms(lambda s: step(images, onehot), device, args.repeats)
    double_ms = time_ms(lambda s: step(mixed, mixed_masks), device, args.repeats)
    aug_ms = time_ms(lambda s: aug(images, masks, generator=gen(s)), device, args.repeats)
    with_ms = time_ms(lambda s: step(*aug(images, masks, generator=gen(s))), device, args.repeats)
    rows = [
        {
            "date": date.today().isoformat(),
            "device": device_name(device),
            "batch": args.batch_size,
            "size": args.size,
            "backend": aug.backend.name + (" fused" if args.fused else ""),
            "kernels": args.kernels,
            "cuda_graph": aug.cuda_graph,
            "data": source,
            "step_ms (B)": plain_ms,
            "step_ms (2B, mixed, no aug)": double_ms,
            "hsmix_ms": aug_ms,
            "step_with_hsmix_ms": with_ms,
            "hsmix_overhead_pct_of_2B_step": 100 * (with_ms - double_ms) / double_ms,
            "hsmix_pct_of_B_step": 100 * aug_ms / plain_ms,
        }
    ]
    print(f"\nU-Net training step with and without HSMix (median ms), {date.today()}")
    print_table(rows, list(rows[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
