"""Does HSMix help? Train a small U-Net with each mixing method and compare Dice and IoU.

Data: a set of ../shared/data (Kvasir-SEG polyps by default) with a fixed split: the sorted
file list, every 5th pair held out for testing, the rest for training; images resized
(shorter side) and centre-cropped. Methods: no mixing, rectangle CutMix for segmentation,
MixUp, HSMix hard only, HSMix soft only, HSMix (both branches, as published). The training
loop is the one users write: the batch goes to the device, the augmentation is one line,
the loss (soft cross-entropy + soft Dice) takes probability masks. Reported: foreground
Dice and IoU on the held-out images, mean and standard deviation over seeds; a table, CSV
and a PNG bar plot.

    python benchmarks/train_segmentation.py --quick        # under 10 minutes on 2 CPU cores
    python benchmarks/train_segmentation.py --device cuda  # the full setting, for a GPU
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DATA, OUT, device_name, pick_device, print_table, write_csv  # noqa: E402
from benchmarks.unet import UNet, soft_dice_ce_loss  # noqa: E402
from hsmix_torch import HSMix  # noqa: E402
from hsmix_torch.data import load_image_folder, sample_batch  # noqa: E402
from hsmix_torch.functional import one_hot  # noqa: E402

METHODS = ("none", "cutmix", "mixup", "hsmix_hard", "hsmix_soft", "hsmix")


def cutmix(x: Tensor, y: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Rectangle CutMix for segmentation: a box of the partner (area ~ U(0, 1)) pasted into
    image and one-hot mask alike."""
    b, _, h, w = x.shape
    dev = x.device
    partner = torch.randperm(b, generator=g, device=dev)
    area = torch.rand(b, generator=g, device=dev)
    bh, bw = (area.sqrt() * h).long(), (area.sqrt() * w).long()
    top = (torch.rand(b, generator=g, device=dev) * (h - bh + 1)).long()
    left = (torch.rand(b, generator=g, device=dev) * (w - bw + 1)).long()
    ys, xs = torch.arange(h, device=dev), torch.arange(w, device=dev)
    inside_y = (ys[None] >= top[:, None]) & (ys[None] < (top + bh)[:, None])
    inside_x = (xs[None] >= left[:, None]) & (xs[None] < (left + bw)[:, None])
    box = (inside_y[:, :, None] & inside_x[:, None, :])[:, None]
    return torch.where(box, x[partner], x), torch.where(box, y[partner], y)


def mixup(x: Tensor, y: Tensor, g: torch.Generator, alpha: float = 0.4) -> tuple[Tensor, Tensor]:
    """MixUp: images and one-hot masks blended with one Beta(alpha, alpha) weight per pair."""
    b = x.shape[0]
    partner = torch.randperm(b, generator=g, device=x.device)
    conc = torch.full((2, b), alpha, device=x.device)
    gam = torch._standard_gamma(conc, generator=g)
    lam = (gam[0] / (gam[0] + gam[1])).view(b, 1, 1, 1)
    return torch.lerp(x, x[partner], lam), torch.lerp(y, y[partner], lam)


def load(name: str, size: int) -> tuple[Tensor, Tensor, Tensor, Tensor, str]:
    if (DATA / name).is_dir():
        images, masks, _ = load_image_folder(DATA / name, size=size)
        images = images.float() / 255
        source = f"{name}: {len(images)} pairs"
    else:
        images, masks = sample_batch(size, count=20)
        source = "20 built-in samples (../shared/data absent)"
    test = torch.arange(len(images)) % 5 == 4
    return images[~test], masks[~test], images[test], masks[test], source


def dice_iou(logits: Tensor, masks: Tensor) -> tuple[float, float]:
    """Foreground Dice and IoU per image, averaged (an empty truth and prediction count 1)."""
    pred = logits.argmax(1) > 0
    truth = masks > 0
    inter = (pred & truth).sum((1, 2)).float()
    total = pred.sum((1, 2)).float() + truth.sum((1, 2)).float()
    union = (pred | truth).sum((1, 2)).float()
    dice = torch.where(total > 0, 2 * inter / total.clamp(min=1), 1.0)
    iou = torch.where(union > 0, inter / union.clamp(min=1), 1.0)
    return float(dice.mean()), float(iou.mean())


def train_one(
    method: str, seed: int, data, args, device: torch.device, progress
) -> dict[str, object]:
    train_x, train_y, test_x, test_y = data
    torch.manual_seed(seed)
    g = torch.Generator(device=device).manual_seed(seed)
    model = UNet(train_x.shape[1], 2, width=args.width).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    outputs = {"hsmix_hard": "hard", "hsmix_soft": "soft", "hsmix": "both"}
    aug = (
        HSMix(n_segments=(30, 80), p_hard=0.2, num_classes=2, output=outputs[method])
        if method in outputs
        else None
    )
    steps = 0
    t0 = time.perf_counter()
    for _ in range(args.epochs):
        if args.max_steps and steps >= args.max_steps:
            break
        order = torch.randperm(
            len(train_x), generator=torch.Generator().manual_seed(seed * 1000 + steps)
        )
        for start in range(0, len(order) - args.batch_size + 1, args.batch_size):
            idx = order[start : start + args.batch_size]
            x, y = train_x[idx].to(device), train_y[idx].to(device)
            if aug is not None:
                x, y = aug(x, y, generator=g)  # the one line
            if not y.is_floating_point():  # no mixing, CutMix, MixUp, and HSMix's hard branch
                y = one_hot(y, 2)
            if aug is None:
                if method == "cutmix":
                    x, y = cutmix(x, y, g)
                elif method == "mixup":
                    x, y = mixup(x, y, g)
            loss = soft_dice_ce_loss(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
            progress.update(1)
            if args.max_steps and steps >= args.max_steps:
                break
    model.eval()
    with torch.no_grad():
        logits = torch.cat(
            [model(test_x[i : i + 16].to(device)) for i in range(0, len(test_x), 16)]
        )
    dice, iou = dice_iou(logits.cpu(), test_y)
    return {
        "method": method,
        "seed": seed,
        "dice": dice,
        "iou": iou,
        "steps": steps,
        "train_s": time.perf_counter() - t0,
    }


def plot(summary: list[dict[str, object]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.4))
    x = range(len(summary))
    ax.bar(
        [i - 0.2 for i in x],
        [r["dice_mean"] for r in summary],
        0.4,
        yerr=[r["dice_std"] for r in summary],
        label="Dice",
        capsize=3,
    )
    ax.bar(
        [i + 0.2 for i in x],
        [r["iou_mean"] for r in summary],
        0.4,
        yerr=[r["iou_std"] for r in summary],
        label="IoU",
        capsize=3,
    )
    ax.set_xticks(list(x), [r["method"] for r in summary])
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--dataset", default="Kvasir_SEG")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--max-steps", type=int, default=0, help="stop each run after this many steps")
    p.add_argument("--quick", action="store_true", help="96 px, 8 epochs, width 16, 2 seeds")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.epochs, args.width, args.seeds = 96, 8, 16, args.seeds[:2]
    device = pick_device(args.device)
    train_x, train_y, test_x, test_y, source = load(args.dataset, args.size)
    per_epoch = len(train_x) // args.batch_size
    steps = (
        per_epoch * args.epochs
        if not args.max_steps
        else min(args.max_steps, per_epoch * args.epochs)
    )
    rows = []
    for method in args.methods:
        for seed in args.seeds:
            with tqdm(total=steps, desc=f"{method} seed {seed}", unit="step", leave=False) as bar:
                rows.append(
                    train_one(method, seed, (train_x, train_y, test_x, test_y), args, device, bar)
                )
    summary = []
    for method in args.methods:
        runs = [r for r in rows if r["method"] == method]
        dice, iou = [r["dice"] for r in runs], [r["iou"] for r in runs]
        summary.append(
            {
                "method": method,
                "seeds": len(runs),
                "dice_mean": statistics.mean(dice),
                "dice_std": statistics.pstdev(dice),
                "iou_mean": statistics.mean(iou),
                "iou_std": statistics.pstdev(iou),
                "train_s_per_run": statistics.mean(r["train_s"] for r in runs),
            }
        )
    title = (
        f"{source}, {len(train_x)} train / {len(test_x)} test, {args.size}px, "
        f"{args.epochs} epochs, {device_name(device)}, {date.today()}"
    )
    print(f"\nU-Net segmentation, held-out Dice / IoU (mean, std over seeds)\n{title}")
    print_table(summary, list(summary[0]))
    tag = "quick" if args.quick else "full"
    write_csv(args.out / f"train_segmentation_{tag}.csv", rows)
    plot(summary, args.out / f"train_segmentation_{tag}.png", title)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
