#!/usr/bin/env bash
# The paired training comparison on a GPU, sized for one device call.
#   Default, PRESET=gpu_short: the data-scarce, long-training design of the CPU "scarce"
#   preset at 224x224 (Kvasir-SEG and BUSI, 40 training images per seed, a fixed held-out
#   set of 100, U-Net width 16, 100 epochs of batch 8, 5 seeds; no mixing on 2B, CutMix,
#   HSMix). Sized from the CPU timings to fit about 8 minutes on an H100; not yet measured.
#   PRESET=gpu: 224x224, width 32, 60 epochs on the whole 80 % split, 10 seeds, every method
#   (one to two hours: split it with --seeds over several sessions).
# The run stops itself after TIME_LIMIT seconds (default 450) so that one device call of 8
# minutes ends cleanly. Resumable: each finished run is appended to
# $OUT/train_segmentation_$PRESET.csv and a rerun with the same settings skips it, so an
# interrupted study goes on where it stopped. Extra arguments go to the script. Needs
# ../shared/data (or HSMIX_DATA pointing at a copy); installs nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-benchmarks/out}"
preset="${PRESET:-gpu_short}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
timeout --signal=INT "${TIME_LIMIT:-450}" "${PYTHON:-python3}" benchmarks/train_segmentation.py \
  --preset "$preset" --device cuda --out "$out" "$@" 2>&1 | tee -a "$out/train_segmentation_$preset.log"
status=${PIPESTATUS[0]}
if [ "$status" -eq 124 ]; then
  echo "gpu_train.sh: stopped after ${TIME_LIMIT:-450} s; rerun the same command to resume." >&2
fi
exit "$status"
