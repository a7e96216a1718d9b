"""Every Triton kernel of a 2-D and a volume forward gives bit-equal outputs when run as a
GPU may run it (``adversarial.py``: programs reversed, shuffled, or interleaved as threads
at every memory operation; the lanes of stores and atomics shuffled; ``torch.empty``
poisoned; every lane's address checked against its launch's tensors), and the mode catches
each kind of defect it is for: a race between programs, a race between lanes, an address
out of bounds, a read of memory nobody wrote.

The forwards are small (the interpreter takes seconds per launch of the scan kernels):
B = 2, RGB 16 x 20, and a 5 x 6 x 8 volume, three k-means rounds (the first, middle and
last variants of the round kernel), class masks (the one-hot mix) and images (the mix)."""

from __future__ import annotations

import pytest
import torch
import triton
import triton.language as tl

from hsmix_torch import HSMix
from hsmix_torch.data import sample_batch, sample_volumes
from hsmix_torch.kernels import triton_available
from hsmix_torch.superpixels import get_backend

from .adversarial import MODES, OutOfBounds, adversarial, same_bits

pytestmark = [
    pytest.mark.skipif(not triton_available(), reason="Triton is not installed"),
    pytest.mark.skipif(torch.cuda.is_available(), reason="the interpreter's mode (CPU tensors)"),
    pytest.mark.xdist_group("adversarial"),  # one worker computes the plain runs once
]

# Every kernel a forward launches: the SLIC features, k-means and connectivity, the
# fine-grained saliency (images), the maps of a mix and the mix (images and class masks).
FORWARD_KERNELS = {
    "_features_kernel", "_start_kernel", "_round_kernel", "_finish_kernel", "_runs_kernel",
    "_union_kernel", "_compress_kernel", "_scan_level_kernel", "_scan_meet_kernel",
    "_follow_kernel", "_relabel_kernel", "_select_kernel", "_hard_kernel", "_weights_kernel",
    "_paint_kernel", "_mix_kernel", "_classes_kernel",
}  # fmt: skip
SALIENCY_KERNELS = {
    "_grey_kernel", "_centre_kernel", "_integral_kernel", "_scales_kernel", "_normalise_kernel"
}  # fmt: skip


def _forward(volume: bool):
    if volume:
        images, masks = sample_volumes(8, count=2)
        images, masks = images[..., :5, :6, :8], masks[..., :5, :6, :8]
    else:
        images, masks = sample_batch(20, count=2)
        images, masks = images[..., :16, :], masks[..., :16, :]
    slic = get_backend("torch", kernels="triton", max_num_iter=3, sync_free=True)
    aug = HSMix(n_segments=(3, 6), superpixels=slic, num_classes=3, kernels="triton")

    def run() -> list[torch.Tensor]:
        out, mixed_masks, params = aug(
            images, masks, generator=torch.Generator().manual_seed(0), return_params=True
        )
        return [out, mixed_masks, *(t for t in vars(params).values() if t is not None)]

    return run


_PLAIN: dict[bool, list[torch.Tensor]] = {}


def _plain(volume: bool) -> list[torch.Tensor]:
    if volume not in _PLAIN:
        _PLAIN[volume] = _forward(volume)()
    return _PLAIN[volume]


@pytest.mark.parametrize(
    "volume,mode,poison",
    [
        (False, "threads", 0xFF),
        (False, "reversed", 0x7F),
        (True, "shuffled", 0xFF),
        (True, "threads", 0x7F),
    ],  # fmt: skip
    ids=["image-threads", "image-reversed", "volume-shuffled", "volume-threads"],
)
def test_forward_kernels_give_the_plain_interpreters_bits(volume, mode, poison) -> None:
    plain = _plain(volume)
    with adversarial(mode, seed=3, poison=poison) as tally:
        got = _forward(volume)()
    assert len(got) == len(plain)
    for k, (a, b) in enumerate(zip(got, plain, strict=True)):
        assert same_bits(a, b), f"output {k} differs under {mode}"
    expected = FORWARD_KERNELS | (set() if volume else SALIENCY_KERNELS)
    assert set(tally.launches) == expected
    assert tally.checked > 1000
    if mode == "threads":
        assert tally.switches > 1000
    if mode == "threads" and not volume:
        # Lanes found the root they meant to link already linked, and climbed on from the
        # value the compare-and-swap returned (the image has such races; the tiny volume
        # need not).
        assert tally.cas_failed[0] > 0


def test_per_pixel_atomics_come_from_the_ends_of_runs() -> None:
    """The k-means sums, the component sizes and the region sums add each run of lanes with
    one key first: on rows of 600 pixels in ten superpixels, at most two lanes of an atomic
    hit one address (a run's two ends), where every lane of a block did before."""
    from hsmix_torch.functional import mix_maps
    from hsmix_torch.sampler import draw
    from hsmix_torch.superpixels import slic

    x = torch.linspace(0, 1, 600).view(1, 1, 1, 600).repeat(2, 1, 1, 1)
    x[1] = x[1].flip(-1)
    with adversarial("shuffled") as tally:
        labels = slic(x, torch.tensor([10, 10]), max_num_iter=3, kernels="triton")
        d = draw(2, n_segments=10, generator=torch.Generator().manual_seed(0))
        mix_maps(labels, d.partner, d.region_key, 10, 0.5, saliency=torch.rand(2, 1, 600),
                 kernels="triton")  # fmt: skip
    assert int(labels.max()) == 9
    for kernel in ("_round_kernel", "_compress_kernel", "_hard_kernel"):
        assert tally.crowding[kernel] == 2, (kernel, tally.crowding)
    # The per-image and per-level flags: one lane per program.
    assert tally.crowding["_scan_level_kernel"] == 1


# ------------------------------------------------------------- the mode catches defects
@triton.jit
def _last_writer(out_ptr):
    tl.store(out_ptr, tl.program_id(0))  # every program writes one word: a race


@triton.jit
def _increment(out_ptr):
    tl.store(out_ptr, tl.load(out_ptr) + 1)  # read-modify-write without an atomic


@triton.jit
def _lanes_collide(out_ptr, BLOCK: tl.constexpr):
    i = tl.arange(0, BLOCK)
    tl.store(out_ptr + i // 2, i)  # two lanes per address


@triton.jit
def _unmasked(src_ptr, out_ptr, N, BLOCK: tl.constexpr):
    i = tl.arange(0, BLOCK)
    tl.store(out_ptr + i, tl.load(src_ptr + i), mask=i < N)  # the load is not masked


@triton.jit
def _copy_some(src_ptr, out_ptr, N, BLOCK: tl.constexpr):
    i = tl.arange(0, BLOCK)
    tl.store(out_ptr + i, tl.load(src_ptr + i, mask=i < N, other=0), mask=i < N)


def _runs(kernel, make_args, grid) -> list[torch.Tensor]:  # noqa: ANN001
    """The kernel's outputs in a plain run and in each adversarial mode."""
    outs = []
    for mode in (None, *MODES):
        args = make_args()
        if mode is None:
            kernel[grid](*args)
        else:
            with adversarial(mode, seed=1):
                kernel[grid](*args)
        outs.append(args[0].clone())
    return outs


def test_races_between_programs_are_caught() -> None:
    plain, reversed_, shuffled, threads = _runs(
        _last_writer, lambda: [torch.zeros(1, dtype=torch.int32)], (16,)
    )
    assert int(plain) == 15 and int(reversed_) == 0  # the last program to run wins
    assert 0 <= int(shuffled) < 16 and 0 <= int(threads) < 16
    plain, *modes = _runs(_increment, lambda: [torch.zeros(1, dtype=torch.int32)], (32,))
    assert int(plain) == 32 and int(modes[-1]) < 32  # threads: updates lost


def test_races_between_lanes_of_a_store_are_caught() -> None:
    plain, *modes = _runs(_lanes_collide, lambda: [torch.zeros(32, dtype=torch.int32), 64], (1,))
    assert torch.equal(plain, torch.arange(1, 64, 2, dtype=torch.int32))  # the last lane
    assert all(not torch.equal(plain, out) for out in modes)


def test_addresses_outside_the_tensors_are_caught_before_they_are_touched() -> None:
    src, out = torch.arange(10.0), torch.zeros(10)
    _copy_some[(1,)](src, out, 10, BLOCK=16)  # masked: fine in every mode
    with adversarial("shuffled"):
        _copy_some[(1,)](src, out, 10, BLOCK=16)
        with pytest.raises(Exception, match="outside every tensor argument") as caught:
            _unmasked[(1,)](src, out, 10, BLOCK=16)
    assert isinstance(caught.value, OutOfBounds) or isinstance(caught.value.__cause__, OutOfBounds)


def test_reads_of_unwritten_memory_are_caught() -> None:
    """A buffer from torch.empty that the kernel reads before anything wrote it: the poison
    shows in the output."""

    def run() -> torch.Tensor:
        src = torch.empty(16)
        src[:8] = 1.0  # half of it written
        out = torch.zeros(16)
        _copy_some[(1,)](src, out, 16, BLOCK=16)
        return out

    with adversarial("reversed", poison=0xFF):
        poisoned = run()
    assert poisoned[:8].eq(1).all() and poisoned[8:].isnan().all()
