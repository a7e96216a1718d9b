"""Does HSMix help? A paired comparison of mixing methods when training a small U-Net.

Paired design: for every (data set, seed) all methods share the train/test split (80/20,
drawn from the seed), the initial weights and the order of the batches; only the
augmentation differs. Differences between methods are therefore taken seed by seed, which
removes the spread that split, initialisation and batch order add to each method alone.

Methods (B images per step unless said):
  none           no mixing
  none_2b        no mixing on 2B images per step: the control that sees as many samples per
                 step as ``hsmix`` (the batch's B images and B more from a second shuffle)
  cutmix         rectangle CutMix for segmentation
  mixup          MixUp, one Beta(0.4, 0.4) weight per pair
  hsmix_hard     HSMix, hard branch only
  hsmix_soft     HSMix, soft branch only
  hsmix_either   HSMix, each sample hard or soft (p_soft 0.5), B samples
  hsmix          HSMix as published: both branches, 2B samples per step
Fair comparisons: the B-sample methods with each other; ``hsmix`` with ``none_2b``.

Reported per data set and method: foreground Dice and IoU on the held-out images, mean and
a 95 % t interval over seeds; the paired differences (HSMix variant minus no mixing, minus
CutMix) with 95 % t intervals over seeds; per run, diagnostics for collapse (the fraction
of test pixels predicted foreground, the last epoch's loss). Rows are appended to the CSV as
runs finish, and a rerun with the same settings skips the runs already there (resumable).

    python benchmarks/train_segmentation.py --quick        # minutes, a smoke run
    python benchmarks/train_segmentation.py --preset cpu   # docs/results/training_paired.md
    python benchmarks/train_segmentation.py --preset gpu   # closer to the paper, for a GPU
    python benchmarks/train_segmentation.py --preset scarce     # 40 training images, long
    python benchmarks/train_segmentation.py --preset gpu_short  # one short GPU device call

The data-scarce presets (``--train-size``) hold out one fixed set per data set (the same for
every seed: ``--test-size`` images drawn once) and draw each seed's training images from the
rest; ``--eval-every`` records learning curves (held-out and training Dice, without
augmentation) every few epochs into ``train_segmentation_<preset>_curves.csv`` and a figure.
"""

from __future__ import annotations

import argparse
import copy
import csv
import math
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DATA, OUT, device_name, pick_device  # noqa: E402
from benchmarks.unet import UNet, soft_dice_ce_loss  # noqa: E402
from hsmix_torch import HSMix  # noqa: E402
from hsmix_torch.data import load_image_folder, sample_batch  # noqa: E402
from hsmix_torch.functional import one_hot  # noqa: E402

METHODS = (
    "none",
    "none_2b",
    "cutmix",
    "mixup",
    "hsmix_hard",
    "hsmix_soft",
    "hsmix_either",
    "hsmix",
)
HSMIX_OUTPUT = {
    "hsmix_hard": "hard",
    "hsmix_soft": "soft",
    "hsmix_either": "either",
    "hsmix": "both",
}
# Which baseline each HSMix variant is compared with fairly (same samples per step).
NO_MIXING = {"hsmix_hard": "none", "hsmix_soft": "none", "hsmix_either": "none", "hsmix": "none_2b"}
PRESETS = {
    "quick": dict(size=64, epochs=2, width=8, seeds=[0, 1], datasets=["Kvasir_SEG"]),
    "cpu": dict(
        size=64, epochs=12, width=16, seeds=[0, 1, 2, 3, 4], datasets=["Kvasir_SEG", "BUSI"]
    ),
    "gpu": dict(
        size=224, epochs=60, width=32, seeds=list(range(10)), datasets=["Kvasir_SEG", "BUSI"]
    ),
    # Data-scarce, long training: 40 training images per seed, a fixed held-out set of 100,
    # enough epochs for the no-mixing control to overfit (its curves show it). About 150 min
    # of CPU time on 2 cores for the methods below.
    "scarce": dict(
        size=64,
        epochs=120,
        width=16,
        seeds=[0, 1, 2, 3, 4],
        datasets=["Kvasir_SEG", "BUSI"],
        train_size=40,
        test_size=100,
        eval_every=5,
        methods=["none_2b", "cutmix", "hsmix", "hsmix_hard"],
    ),
    # The same design at 224 px for one device call of at most 8 minutes on an H100 (sizes
    # and epochs from the CPU timings of the scarce preset; see gpu_train.sh).
    "gpu_short": dict(
        size=224,
        epochs=100,
        width=16,
        seeds=[0, 1, 2, 3, 4],
        datasets=["Kvasir_SEG", "BUSI"],
        train_size=40,
        test_size=100,
        eval_every=10,
        methods=["none_2b", "cutmix", "hsmix"],
    ),
}
# The settings that make two runs comparable; a resumed run must match all of them.
CONFIG_KEYS = (
    "size",
    "epochs",
    "width",
    "batch_size",
    "lr",
    "max_steps",
    "train_size",
    "test_size",
    "eval_every",
)
HELD_OUT_SEED = 20261205  # the fixed held-out set of the data-scarce presets


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


def load(name: str, size: int) -> tuple[Tensor, Tensor, str]:
    """A data set of ../shared/data as float [0, 1] images and int64 masks, every pair kept
    (BUSI's normal images with empty masks included); ``builtin-rgb`` / ``builtin-grey``, or
    a missing folder, give 20 built-in samples."""
    if (DATA / name).is_dir():
        images, masks, _ = load_image_folder(DATA / name, size=size)
        return images.float() / 255, masks, f"{name} ({len(images)} pairs)"
    channels = 1 if name in ("BUSI", "builtin-grey") else 3
    images, masks = sample_batch(size, count=20, channels=channels)
    return images, masks, f"{name}: 20 built-in samples (no data folder)"


def split(n: int, seed: int, train_size: int = 0, test_size: int = 0) -> tuple[Tensor, Tensor]:
    """Indices of (train, test) among ``n`` pairs. Without sizes: the seed's 80/20 split.
    With ``test_size``: a held-out set of that many pairs drawn once (the same for every
    seed), and ``train_size`` training pairs (0: all the rest) drawn by the seed from the
    rest."""
    if not test_size:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        n_test = max(1, n // 5)
        train = order[n_test:]
        return (train[:train_size] if train_size else train), order[:n_test]
    if test_size >= n:
        raise SystemExit(f"--test-size {test_size} leaves no training pairs of {n}")
    fixed = torch.randperm(n, generator=torch.Generator().manual_seed(HELD_OUT_SEED))
    test, pool = fixed[:test_size], fixed[test_size:]
    pool = pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))]
    return (pool[:train_size] if train_size else pool), test


def predict(model: torch.nn.Module, images: Tensor, device: torch.device) -> Tensor:
    """Logits of ``images`` in evaluation mode, 16 at a time, on the CPU."""
    model.eval()
    with torch.no_grad():
        out = torch.cat(
            [model(images[i : i + 16].to(device)).cpu() for i in range(0, len(images), 16)]
        )
    model.train()
    return out


def dice_iou(logits: Tensor, masks: Tensor) -> tuple[float, float, float]:
    """Foreground Dice and IoU per image, averaged (an empty truth and prediction count 1),
    and the fraction of pixels predicted foreground."""
    pred = logits.argmax(1) > 0
    truth = masks > 0
    inter = (pred & truth).sum((1, 2)).float()
    total = pred.sum((1, 2)).float() + truth.sum((1, 2)).float()
    union = (pred | truth).sum((1, 2)).float()
    dice = torch.where(total > 0, 2 * inter / total.clamp(min=1), 1.0)
    iou = torch.where(union > 0, inter / union.clamp(min=1), 1.0)
    return float(dice.mean()), float(iou.mean()), float(pred.float().mean())


def batches(n: int, batch_size: int, seed: int, epoch: int, stream: int = 0) -> list[Tensor]:
    """The epoch's batches of train indices: the same for every method of a seed."""
    g = torch.Generator().manual_seed((seed * 1_000 + epoch) * 10 + stream)
    order = torch.randperm(n, generator=g)
    return [order[s : s + batch_size] for s in range(0, n - batch_size + 1, batch_size)]


def augment(
    method: str, aug: HSMix | None, x: Tensor, y: Tensor, g: torch.Generator
) -> tuple[Tensor, Tensor]:
    """One training batch of ``method`` from images ``x`` and int64 masks ``y``; masks come
    back as probabilities [N, 2, H, W]."""
    if aug is not None:
        x, y = aug(x, y, generator=g)  # the one line a user writes
    if not y.is_floating_point():  # integer maps: no mixing, CutMix, MixUp, hard-only HSMix
        y = one_hot(y, 2)
    if method == "cutmix":
        x, y = cutmix(x, y, g)
    elif method == "mixup":
        x, y = mixup(x, y, g)
    return x, y


def train_one(
    method: str,
    seed: int,
    data: tuple[Tensor, Tensor, Tensor, Tensor],
    init: dict[str, Tensor],
    args: argparse.Namespace,
    device: torch.device,
    progress,
) -> tuple[dict[str, object], list[dict[str, object]]]:
    """One training run; returns its result row and its learning-curve rows (every
    ``args.eval_every`` epochs and the last: held-out and training Dice, no augmentation)."""
    train_x, train_y, test_x, test_y = data
    model = UNet(train_x.shape[1], 2, width=args.width).to(device)
    model.load_state_dict(init)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    g = torch.Generator(device=device).manual_seed(seed)
    aug = (
        HSMix(n_segments=(30, 80), p_hard=0.2, num_classes=2, output=HSMIX_OUTPUT[method])
        if method in HSMIX_OUTPUT
        else None
    )
    steps, t0, losses, curve, eval_s = 0, time.perf_counter(), [], [], 0.0
    for epoch in range(args.epochs):
        losses = []
        extra = batches(len(train_x), args.batch_size, seed, epoch, stream=1)
        for i, idx in enumerate(batches(len(train_x), args.batch_size, seed, epoch)):
            if args.max_steps and steps >= args.max_steps:
                break
            if method == "none_2b":
                idx = torch.cat([idx, extra[i]])
            x, y = augment(method, aug, train_x[idx].to(device), train_y[idx].to(device), g)
            loss = soft_dice_ce_loss(model(x), y, dice=args.dice)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            steps += 1
            progress.update(1)
        if args.eval_every and ((epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs):
            t_eval = time.perf_counter()
            test_dice = dice_iou(predict(model, test_x, device), test_y)[0]
            train_dice = dice_iou(predict(model, train_x, device), train_y)[0]
            curve.append({"epoch": epoch + 1, "test_dice": test_dice, "train_dice": train_dice})
            eval_s += time.perf_counter() - t_eval
    dice, iou, fg_pred = dice_iou(predict(model, test_x, device), test_y)
    row = {
        "method": method,
        "seed": seed,
        "dice": dice,
        "iou": iou,
        "fg_pred": fg_pred,
        "fg_true": float((test_y > 0).float().mean()),
        "last_epoch_loss": statistics.mean(losses) if losses else float("nan"),
        "steps": steps,
        "train_s": time.perf_counter() - t0 - eval_s,
    }
    return row, [{"method": method, "seed": seed, **c} for c in curve]


def t_interval(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95 % t interval (half-width nan for a single value)."""
    from scipy.stats import t

    mean = statistics.mean(values)
    if len(values) < 2:
        return mean, float("nan")
    return mean, float(t.ppf(0.975, len(values) - 1)) * statistics.stdev(values) / math.sqrt(
        len(values)
    )


def summarise(rows: list[dict[str, object]], methods: list[str]) -> list[dict[str, object]]:
    out = []
    for method in methods:
        runs = [r for r in rows if r["method"] == method]
        if not runs:
            continue
        dice, dice_ci = t_interval([float(r["dice"]) for r in runs])
        iou, iou_ci = t_interval([float(r["iou"]) for r in runs])
        out.append(
            {
                "method": method,
                "seeds": len(runs),
                "dice": dice,
                "dice_ci95": dice_ci,
                "iou": iou,
                "iou_ci95": iou_ci,
                "collapsed": sum(float(r["fg_pred"]) < 1e-3 for r in runs),
                "train_s_per_run": statistics.mean(float(r["train_s"]) for r in runs),
            }
        )
    return out


def paired_differences(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Seed-by-seed Dice differences of each HSMix variant against its fair no-mixing
    baseline and against CutMix, with 95 % t intervals; significant when the interval
    excludes 0."""
    dice = {(r["method"], int(r["seed"])): float(r["dice"]) for r in rows}
    out = []
    for method in HSMIX_OUTPUT:
        for base in (NO_MIXING[method], "cutmix"):
            seeds = sorted(s for (m, s) in dice if m == method and (base, s) in dice)
            if not seeds:
                continue
            diff, ci = t_interval([dice[method, s] - dice[base, s] for s in seeds])
            out.append(
                {
                    "comparison": f"{method} - {base}",
                    "seeds": len(seeds),
                    "dice_diff": diff,
                    "ci95": ci,
                    "significant": bool(len(seeds) > 1 and abs(diff) > ci),
                }
            )
    return out


def plot(per_set: dict[str, list[dict[str, object]]], rows, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(per_set), figsize=(6.5 * len(per_set), 3.6), squeeze=False)
    for ax, (name, summary) in zip(axes[0], per_set.items(), strict=True):
        for i, r in enumerate(summary):
            seeds = [
                float(x["dice"]) for x in rows if x["set"] == name and x["method"] == r["method"]
            ]
            ax.scatter([i] * len(seeds), seeds, s=9, color="0.6", zorder=2)
            err = 0 if math.isnan(r["dice_ci95"]) else r["dice_ci95"]
            ax.errorbar(i, r["dice"], yerr=err, fmt="o", color="C0", capsize=4, zorder=3)
        ax.set_xticks(range(len(summary)), [r["method"] for r in summary], rotation=30, ha="right")
        ax.set_ylabel("held-out Dice (mean, 95 % CI; dots: seeds)")
        ax.set_title(name, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def curve_table(curves: list[dict[str, object]]) -> list[dict[str, object]]:
    """Mean held-out and training Dice over seeds per (set, method, epoch)."""
    groups: dict[tuple[str, str, int], list[dict[str, object]]] = {}
    for r in curves:
        groups.setdefault((str(r["set"]), str(r["method"]), int(r["epoch"])), []).append(r)
    return [
        {
            "set": s,
            "method": m,
            "epoch": e,
            "seeds": len(rs),
            "test_dice": statistics.mean(float(r["test_dice"]) for r in rs),
            "train_dice": statistics.mean(float(r["train_dice"]) for r in rs),
        }
        for (s, m, e), rs in sorted(groups.items())
    ]


def plot_curves(curves: list[dict[str, object]], path: Path, title: str) -> None:
    """Held-out Dice against epoch per data set: mean over seeds (solid) with the band of
    its 95 % t interval, and the training Dice (dashed) of the same runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(dict.fromkeys(str(r["set"]) for r in curves))
    fig, axes = plt.subplots(1, len(sets), figsize=(6.5 * len(sets), 4.0), squeeze=False)
    for ax, name in zip(axes[0], sets, strict=True):
        present = {str(r["method"]) for r in curves if r["set"] == name}
        for method in (m for m in METHODS if m in present):
            colour = f"C{METHODS.index(method)}"  # the same method, the same colour in every panel
            rows = [r for r in curves if r["set"] == name and r["method"] == method]
            epochs = sorted({int(r["epoch"]) for r in rows})
            mean, low, high, train = [], [], [], []
            for e in epochs:
                at = [r for r in rows if int(r["epoch"]) == e]
                m, ci = t_interval([float(r["test_dice"]) for r in at])
                ci = 0.0 if math.isnan(ci) else ci
                mean.append(m)
                low.append(m - ci)
                high.append(m + ci)
                train.append(statistics.mean(float(r["train_dice"]) for r in at))
            ax.plot(epochs, mean, color=colour, label=f"{method} (held-out)")
            ax.fill_between(epochs, low, high, color=colour, alpha=0.15, linewidth=0)
            ax.plot(
                epochs,
                train,
                color=colour,
                linestyle="--",
                linewidth=0.9,
                label=f"{method} (training)",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("foreground Dice (mean over seeds, 95 % band)")
        ax.set_title(name, fontsize=9)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def read_done(path: Path, config: dict[str, object]) -> list[dict[str, object]]:
    """Rows of an earlier run of the same settings (resume); rows of other settings are
    ignored."""
    if not path.exists():
        return []
    with path.open() as f:
        reader = csv.DictReader(f)
        missing = {"set", "method", "seed", *config} - set(reader.fieldnames or ())
        if missing:
            raise SystemExit(
                f"{path} was written by another version of this script (no {sorted(missing)} "
                "columns); move it away or pass another --out"
            )
        return [r for r in reader if all(r[k] == str(v) for k, v in config.items())]


def append_row(path: Path, row: dict[str, object]) -> None:
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _number(text: str) -> object:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def markdown(rows: list[dict[str, object]], columns: list[str]) -> str:
    def fmt(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument("--quick", action="store_true", help="the same as --preset quick")
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--datasets", nargs="+", help="folders of the data directory, or builtin-rgb/-grey"
    )
    p.add_argument("--methods", nargs="+", choices=METHODS, help="default: the preset's or all")
    p.add_argument("--seeds", type=int, nargs="+")
    p.add_argument("--size", type=int, help="image side (divisible by 8)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--width", type=int, help="U-Net width")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--max-steps", type=int, default=0, help="stop each run after this many steps")
    p.add_argument("--train-size", type=int, help="training pairs per seed (0: the 80 %% split)")
    p.add_argument(
        "--test-size", type=int, help="a fixed held-out set of this many pairs (0: per seed 20 %%)"
    )
    p.add_argument("--eval-every", type=int, help="learning curves every N epochs (0: none)")
    p.add_argument(
        "--dice",
        choices=["soft", "semimetric", "none"],
        default="soft",
        help="the Dice term of the loss (see benchmarks/unet.py); not 'soft' writes its own CSV",
    )
    p.add_argument("--threads", type=int, help="torch threads on the CPU")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    preset = "quick" if args.quick else args.preset
    defaults = {"train_size": 0, "test_size": 0, "eval_every": 0, "methods": list(METHODS)}
    for key, value in {**defaults, **PRESETS[preset]}.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.size % 8:
        p.error(f"--size must be divisible by 8 (the U-Net pools three times), got {args.size}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    config = {k: getattr(args, k) for k in CONFIG_KEYS}
    tag = preset if args.dice == "soft" else f"{preset}_dice-{args.dice}"
    csv_path = args.out / f"train_segmentation_{tag}.csv"
    curves_path = args.out / f"train_segmentation_{tag}_curves.csv"
    done = {(r["set"], r["method"], int(r["seed"])) for r in read_done(csv_path, config)}
    sources = []
    for name in args.datasets:
        images, masks, source = load(name, args.size)
        sources.append(source)
        for seed in args.seeds:
            train, test = split(len(images), seed, args.train_size, args.test_size)
            data = (images[train], masks[train], images[test], masks[test])
            torch.manual_seed(seed)  # the initial weights, shared by every method of the seed
            init = copy.deepcopy(UNet(images.shape[1], 2, width=args.width).state_dict())
            per_epoch = len(train) // args.batch_size
            steps = per_epoch * args.epochs
            if args.max_steps:
                steps = min(steps, args.max_steps)
            for method in args.methods:
                if (name, method, seed) in done:
                    continue
                desc = f"{name} {method} seed {seed}"
                with tqdm(total=steps, desc=desc, unit="step", leave=False) as bar:
                    row, curve = train_one(method, seed, data, init, args, device, bar)
                for point in curve:  # the curve first: a run is done once its row is written
                    append_row(curves_path, {"set": name, **point, **config})
                append_row(csv_path, {"set": name, **row, **config})
    rows = read_done(csv_path, config)  # the CSV is the record: a resumed run reports the same
    title = (
        f"{'; '.join(sources)}; {args.size}px, U-Net width {args.width}, {args.epochs} epochs "
        f"of batch {args.batch_size}, {args.dice} Dice + CE; {device_name(device)}; {date.today()}"
    )
    print(f"\nHeld-out foreground Dice / IoU, mean and 95 % t interval over seeds\n{title}")
    per_set = {}
    for name in args.datasets:
        set_rows = [r for r in rows if r["set"] == name]
        per_set[name] = summarise(set_rows, args.methods)
        print(f"\n{name}")
        print(markdown(per_set[name], list(per_set[name][0])))
        print(f"\n{name}: paired Dice differences (95 % t interval over seeds)")
        diffs = paired_differences(set_rows)
        if diffs:
            print(markdown(diffs, list(diffs[0])))
    print("\nPer run (fg_pred: fraction of test pixels predicted foreground)")
    columns = ["set", "method", "seed", "dice", "iou", "fg_pred", "fg_true", "last_epoch_loss"]
    print(markdown([{c: _number(r[c]) for c in columns} for r in rows], columns))
    plot(per_set, rows, args.out / f"train_segmentation_{tag}.png", title)
    if args.eval_every:
        curves = read_done(curves_path, config)
        print("\nLearning curves (held-out / training Dice, mean over seeds, no augmentation)")
        print(
            markdown(
                curve_table(curves), ["set", "method", "epoch", "seeds", "test_dice", "train_dice"]
            )
        )
        plot_curves(curves, args.out / f"train_segmentation_{tag}_curves.png", title)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
