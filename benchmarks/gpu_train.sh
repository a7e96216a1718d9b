#!/usr/bin/env bash
# The training comparison in the setting closer to the paper, for a GPU (a sibling of
# gpu_check.sh, which it does not fit: expect one to two hours on an H100/H200).
#   python benchmarks/train_segmentation.py --preset gpu: Kvasir-SEG and BUSI, 224x224,
#   U-Net width 32, 60 epochs of batch 8, 10 seeds, every method of the paired design.
# Resumable: each finished run is appended to $OUT/train_segmentation_gpu.csv and a rerun
# with the same settings skips it, so the work can be split over several device sessions
# (e.g. ./benchmarks/gpu_train.sh --seeds 0 1 2, then 3 4 5, ...). Extra arguments go to the
# script. Needs ../shared/data (or HSMIX_DATA pointing at a copy); installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-benchmarks/out}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"${PYTHON:-python3}" benchmarks/train_segmentation.py --preset gpu --device cuda --out "$out" "$@" \
  2>&1 | tee -a "$out/train_segmentation_gpu.log"
