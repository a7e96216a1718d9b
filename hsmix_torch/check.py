"""``hsmix-torch check``: whether the Triton kernels compute what their torch references
compute on this machine, and what a forward costs here.

Like ``python -m torch.utils.collect_env``, it starts with the environment (torch, CUDA,
Triton, driver, GPU). Then each Triton stage runs on the built-in samples beside the torch
ops it must equal (:mod:`hsmix_torch.kernels` names them): the SLIC features, k-means and
connectivity (images and a volume), the fine-grained saliency, the maps of a mix, the mix
and the one-hot class maps. Each stage reports ``equal`` or its largest difference against
what it promises (exact, or a stated tolerance), and the time of its first call (the
kernels' compilation included). Then the eager forward, the forward in a CUDA graph and the
superpixel stage are timed. The exit status is 1 when a stage differs or fails, and the
report names the option that avoids its kernels.

On a CUDA device the kernels are compiled for it; on the CPU they run in Triton's
interpreter (``TRITON_INTERPRET=1``, which ``hsmix-torch check`` sets) on small shapes:
what CI runs.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["StageResult", "compare_stages", "environment", "run_check", "time_forward"]

# The option that keeps a stage on torch ops (every stage: HSMix(kernels="torch")).
_SUPERPIXELS = 'superpixels=get_backend("torch", kernels="torch")'
_SALIENCY = 'saliency=get_saliency("fine_grained", kernels="torch")'
_ALL = 'kernels="torch"'


@dataclass
class StageResult:
    """One Triton stage against its torch reference.

    Attributes:
        stage: what ran (``"connectivity (volume)"``).
        difference: the largest absolute difference over its outputs (0: equal).
        tolerance: what the stage promises (0: bit for bit).
        seconds: the first call of the kernels (with their compilation on a GPU).
        avoid: the HSMix option that keeps this stage on torch ops.
        error: the exception the kernels raised, if any.
    """

    stage: str
    difference: float
    tolerance: float
    seconds: float
    avoid: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.difference <= self.tolerance


def environment(device: torch.device) -> dict[str, str]:
    """What the check runs on: Python, torch, CUDA, Triton, the driver and the GPU.

    Args:
        device: the device checked.

    Returns:
        Names and values, in the order they are printed.
    """
    from .kernels import triton_available

    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda (torch built with)": str(torch.version.cuda),
        "device": str(device),
    }
    if triton_available():
        import triton

        env["triton"] = triton.__version__
    else:
        env["triton"] = "not installed"
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env["gpu"] = f"{props.name} (sm_{props.major}{props.minor}, {props.total_memory >> 20} MiB)"
        driver = getattr(torch._C, "_cuda_getDriverVersion", lambda: 0)()
        env["driver (CUDA API)"] = f"{driver // 1000}.{driver % 1000 // 10}" if driver else "?"
        env["kernels"] = "compiled for this GPU"
    else:
        env["gpu"] = "none"
        env["kernels"] = "Triton's interpreter (TRITON_INTERPRET=1), small shapes"
    return env


def _difference(a: object, b: object) -> float:
    """The largest absolute difference of tensors (or tuples of them); inf on a mismatch of
    shape or dtype."""
    if isinstance(a, tuple | list):
        return max(_difference(x, y) for x, y in zip(a, b, strict=True))
    assert isinstance(a, Tensor) and isinstance(b, Tensor)
    if a.shape != b.shape:
        return float("inf")
    if a.dtype == torch.bool or b.dtype == torch.bool:
        return float((a != b).any())
    if not (a.is_floating_point() or b.is_floating_point()):
        return float((a.long() - b.long()).abs().max()) if a.numel() else 0.0
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


def _stage(
    name: str,
    reference: Callable[[], object],
    kernel: Callable[[], object],
    tolerance: float,
    avoid: str,
) -> StageResult:
    ref = reference()
    start = time.perf_counter()
    try:
        out = kernel()
        if isinstance(out, Tensor) and out.is_cuda:
            torch.cuda.synchronize(out.device)
    except Exception as err:  # noqa: BLE001 - a failing kernel is the check's finding
        return StageResult(name, float("inf"), tolerance, time.perf_counter() - start, avoid,
                           f"{type(err).__name__}: {err}")  # fmt: skip
    seconds = time.perf_counter() - start
    return StageResult(name, _difference(out, ref), tolerance, seconds, avoid)


def compare_stages(device: torch.device, size: int, batch: int, rounds: int) -> list[StageResult]:
    """Every Triton stage on the built-in samples beside its torch reference.

    Args:
        device: CUDA (the kernels compiled), or the CPU (the interpreter).
        size, batch: the images, ``[batch, C, size, size]`` RGB and grey (and two volumes).
        rounds: the k-means rounds.

    Returns:
        One :class:`StageResult` per stage.
    """
    from .data import sample_batch, sample_volumes
    from .functional import mix_batch, mix_classes, mix_maps
    from .functional.slic_grid import slic_grid
    from .kernels.connectivity import connected_labels
    from .kernels.slic_features import slic_features
    from .kernels.slic_kmeans import slic_kmeans
    from .saliency import fine_grained
    from .sampler import draw
    from .superpixels.connectivity import enforce_connectivity
    from .superpixels.torch_slic import _features, _kmeans_from_grid

    interpreted = device.type != "cuda"
    rgb, masks = (t.to(device) for t in sample_batch(size, count=batch))
    grey = sample_batch(size, count=batch, channels=1)[0].to(device)
    grey8 = (grey * 255).round().to(torch.uint8)
    volume = sample_volumes((4, 6, 8) if interpreted else 48, count=2)[0].to(device)
    eps = torch.finfo(torch.float32).eps
    results = []

    for what, images, m, rtol in (("RGB", rgb, 8.0, 2e-6), ("grey", grey, 0.1, 0.0)):
        ref = _features(images, m)
        results.append(_stage(f"SLIC features ({what})", lambda r=ref: r,
                              lambda x=images, m=m: slic_features(x, m),
                              rtol * float(ref.abs().max()), _SUPERPIXELS))  # fmt: skip
    labels = {}
    n_image, n_volume = (8, 6) if interpreted else (50, 100)
    for what, images, n, m in (("images", rgb, n_image, 8.0), ("volume", volume, n_volume, 0.1)):
        feats = _features(images, m)
        count = torch.full((images.shape[0],), n, device=device)
        grid = slic_grid(tuple(images.shape[2:]), count, n)
        raw = _kmeans_from_grid(feats, grid=grid, radius=2, rounds=rounds, spacing=None)
        results.append(_stage(
            f"SLIC k-means ({what})", lambda r=raw: r,
            lambda f=feats, g=grid: slic_kmeans(f, grid=g, radius=2, rounds=rounds),
            0.0, _SUPERPIXELS,
        ))  # fmt: skip
        ref = enforce_connectivity(raw, grid.min_size, kernels="torch")
        results.append(_stage(
            f"connectivity ({what})", lambda r=ref: r,
            lambda r=raw, g=grid: connected_labels(r, g.min_size), 0.0, _SUPERPIXELS,
        ))  # fmt: skip
        labels[what] = ref[0]
    saliency = {}
    for what, images in (("RGB float", rgb), ("grey uint8", grey8)):
        ref = fine_grained(images, kernels="torch")
        results.append(_stage(f"fine-grained saliency ({what})", lambda r=ref: r,
                              lambda x=images: fine_grained(x, kernels="triton"), 0.0,
                              _SALIENCY))  # fmt: skip
        saliency[what] = ref[:, 0]
    gen = torch.Generator(device=device).manual_seed(0)
    d = draw(batch, n_segments=n_image, device=device, generator=gen)
    slots = int(labels["images"].max()) + 1
    maps_args = (labels["images"], d.partner, d.region_key, slots, 0.3)
    maps = mix_maps(*maps_args, saliency=saliency["RGB float"], kernels="torch")
    results.append(_stage(
        "maps of a mix", lambda: tuple(maps),
        lambda: tuple(mix_maps(*maps_args, saliency=saliency["RGB float"], kernels="triton")),
        0.0, _ALL,
    ))  # fmt: skip
    mix_args = (d.partner, maps.hard_mask, maps.soft_lambda, "both")
    # A GPU fuses the lerp's multiply-add as torch.lerp does; the interpreter rounds twice.
    tolerance = eps if interpreted else 0.0
    results.append(_stage(
        "mix (images)", lambda: mix_batch(rgb, *mix_args, kernels="torch"),
        lambda: mix_batch(rgb, *mix_args, kernels="triton"), tolerance, _ALL,
    ))  # fmt: skip
    class_args = (masks, *mix_args, None, 2)
    results.append(_stage(
        "mix (one-hot masks)", lambda: mix_classes(*class_args, kernels="torch"),
        lambda: mix_classes(*class_args, kernels="triton"), tolerance, _ALL,
    ))  # fmt: skip
    return results


def _median_ms(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    fn()  # warm-up: compilation, caches, a graph's capture
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(1e3 * (time.perf_counter() - start))
    return sorted(times)[len(times) // 2]


def time_forward(device: torch.device, size: int, batch: int, repeats: int) -> dict[str, float]:
    """Median times of a forward at the defaults (``superpixels="auto"``, two classes, no
    value checks) on built-in samples.

    Args:
        device: where to time.
        size, batch: the images, ``[batch, 3, size, size]``.
        repeats: timed calls after a warm-up (the median is kept).

    Returns:
        Milliseconds of the eager forward, the forward in a CUDA graph (CUDA only) and
        the superpixel stage, by name.
    """
    from .data import sample_batch
    from .module import HSMix

    images, masks = (t.to(device) for t in sample_batch(size, count=batch))
    aug = HSMix(num_classes=2, validate=False)
    n = torch.full((batch,), 50, device=device)
    times = {
        "forward, eager": _median_ms(lambda: aug(images, masks), device, repeats),
        "superpixels": _median_ms(
            lambda: aug.backend(images, n, max_segments=80, spacing=None), device, repeats
        ),
    }
    if device.type == "cuda":
        graphed = HSMix(num_classes=2, validate=False, cuda_graph=True)
        times["forward, CUDA graph"] = _median_ms(lambda: graphed(images, masks), device, repeats)
    return times


def run_check(
    device: str | torch.device | None = None,
    *,
    size: int | None = None,
    batch_size: int | None = None,
    repeats: int = 10,
    write: Callable[[str], None] = print,
) -> int:
    """Run the check (see the module docstring) and write its report line by line.

    Args:
        device: where to check (default: CUDA when available, else the CPU).
        size: the image side (default 224 on CUDA, 16 on the CPU's interpreter).
        batch_size: images per batch (default 16 on CUDA, 2 on the CPU).
        repeats: timed repeats per figure (the median is reported).
        write: where the report goes.

    Returns:
        The exit status: 0 when every stage equals its reference (or there is nothing to
        check: no Triton), 1 otherwise.

    Raises:
        ValueError: a device that is neither CUDA nor the CPU.
    """
    from .kernels import triton_available

    dev = torch.device(
        device if device is not None else "cuda" if torch.cuda.is_available() else "cpu"
    )
    if dev.type not in ("cuda", "cpu"):
        raise ValueError(f"device must be a CUDA device or the CPU, got {dev}")
    interpreted = dev.type == "cpu"
    size = size or (16 if interpreted else 224)
    batch = batch_size or (2 if interpreted else 16)
    for name, value in environment(dev).items():
        write(f"{name + ':':<24} {value}")
    if not triton_available():
        write("\nTriton is not installed: HSMix runs torch ops everywhere; nothing to check.")
        return 0
    if interpreted and os.environ.get("TRITON_INTERPRET") != "1":
        write("\nOn the CPU the kernels run in Triton's interpreter: set TRITON_INTERPRET=1 "
              "before hsmix_torch's kernels are imported (hsmix-torch check does).")  # fmt: skip
        return 1
    rounds = 3 if interpreted else 10
    write(f"\nTriton stages against their torch references ({batch} x {size} x {size} images, "
          f"a volume; k-means of {rounds} rounds):")  # fmt: skip
    results = compare_stages(dev, size, batch, rounds)
    width = max(len(r.stage) for r in results)
    for r in results:
        if r.error:
            verdict = f"FAILED: {r.error}"
        elif r.difference == 0:
            verdict = "equal"
        else:
            state = "within" if r.ok else "OVER"
            verdict = f"largest difference {r.difference:.3g}, {state} {r.tolerance:.3g}"
        write(f"  {r.stage:<{width}}  {verdict}  (first call {r.seconds:.2f} s)")
    where = "torch ops, as HSMix runs on the CPU" if interpreted else "the defaults"
    write(f"\nTimes (median of {repeats}, {where}):")
    for name, ms in time_forward(dev, 224 if not interpreted else 64, batch, repeats).items():
        write(f"  {name:<22} {ms:9.2f} ms")
    failed = [r for r in results if not r.ok]
    if not failed:
        write("\nAll Triton stages equal their torch references.")
        return 0
    avoid = sorted({r.avoid for r in failed})
    write(f"\n{len(failed)} stage(s) differ: {', '.join(r.stage for r in failed)}. Until this is "
          f"fixed, avoid those kernels with HSMix({', '.join(avoid)}) and please report this "
          "output.")  # fmt: skip
    sys.stdout.flush()
    return 1
