#!/usr/bin/env bash
# One device check for a lent GPU session (or, without a GPU, its CPU fallback here):
#   0. hsmix-torch check: the environment, every Triton stage beside its torch reference on
#      this GPU (equal, or its largest difference), the eager and graphed forward timed,
#   1. the CUDA tests (sync-free forward, determinism, CPU/GPU agreement, graph capture and
#      HSMix(cuda_graph=True), every Triton kernel equal to its torch ops at 224 and 512),
#   2. the GPU goals (cuda_graph.py: SLIC and HSMix eager and in a graph, Triton against
#      torch ops, B=16 224 and B=64 512, RGB and grey), the training-step overhead eager
#      and with cuda_graph=True, launches per forward with the per-kernel profile, the
#      static report's floors beside each kernel's measured time (gpu_report.py --profile),
#      nnU-Net's train_step with and without HSMix (where nnunetv2 is installed), then
#      the HSMix and superpixel benchmarks, then volumes (bench_hsmix --volumes: B=2 and 4
#      at 96^3 and 128^3, the torch 3-D SLIC and its Triton kernels),
# most important first, then a short summary. Installs nothing; needs torch, numpy,
# scikit-image, matplotlib, tqdm, pytest on the machine (opencv-contrib for the reference
# and the parity tests: without it the reference is not timed and those tests skip).
# Budget: under 8 minutes on an H100. Logs and CSVs go to ${OUT:-benchmarks/out}.
# ../shared/data does not travel to a device machine: copy it into an ignored folder of the
# checkout, carry that folder and set HSMIX_DATA to it, or the tests and benchmarks fall
# back to the built-in sample images.
#   bash benchmarks/gpu_check.sh            # auto: cuda if available, else a quick CPU run
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-benchmarks/out}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
py="${PYTHON:-python3}"
if "$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  device=cuda; batches=(1 16 64); sp_batches=(16); sizes=(224 512); repeats=10
  backends=(auto grid); step_size=224
else
  # The CPU fallback checks that the script works; its figures are bench_hsmix's smallest.
  device=cpu; batches=(16); sp_batches=(16); sizes=(224); repeats=2
  backends=(fast_slic grid); step_size=96
  echo "no CUDA device: running the CPU fallback (quick settings)"
fi
"$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")'

status=0
echo "== hsmix-torch check (the kernels against their torch references on this device)"
"$py" -m hsmix_torch check --device "$device" 2>&1 | tee "$out/check.log" || status=1

echo "== CUDA tests (and the Triton kernels against their torch-ops references, on CUDA)"
"$py" -m pytest -q -p no:cacheprovider -k "cuda or compile or kernels or graph" tests \
  2>&1 | tee "$out/gpu_tests.log" || status=1

if [ "$device" = cuda ]; then
  echo "== the GPU goals: SLIC and HSMix, eager and in a CUDA graph"
  "$py" benchmarks/cuda_graph.py --cases 16:224 64:512 --out "$out" \
    2>&1 | tee "$out/cuda_graph.log" || status=1
fi

echo "== training-step overhead"
"$py" benchmarks/step_overhead.py --device "$device" --batch-size 16 --size "$step_size" \
  --repeats "$repeats" 2>&1 | tee "$out/step_overhead.log"
if [ "$device" = cuda ]; then
  "$py" benchmarks/step_overhead.py --device cuda --cuda-graph --batch-size 16 \
    --size "$step_size" --repeats "$repeats" 2>&1 | tee -a "$out/step_overhead.log"
fi

echo "== launches per forward and the per-kernel profile"
"$py" benchmarks/launch_count.py --device "$device" --batch-size 16 --size "$step_size" \
  2>&1 | tee "$out/launch_count.log"
if [ "$device" = cuda ]; then
  echo "== the static floors beside the measured kernels (B=16 RGB 224)"
  "$py" benchmarks/gpu_report.py --profile --json "$out/gpu_report.json" \
    2>&1 | tee "$out/gpu_report.log" || status=1
fi

echo "== nnU-Net's train_step with and without HSMix (skipped without nnunetv2)"
if "$py" -c 'import nnunetv2' 2>/dev/null; then
  "$py" benchmarks/nnunet_overhead.py --device "$device" --configuration 2d --steps 10 \
    --out "$out" 2>&1 | tee "$out/nnunet_overhead.log" || status=1
fi

echo "== HSMix end to end"
"$py" benchmarks/bench_hsmix.py --device "$device" --batch-sizes "${batches[@]}" \
  --sizes "${sizes[@]}" --backends "${backends[@]}" --repeats "$repeats" --reference-images 4 --out "$out" \
  2>&1 | tee "$out/bench_hsmix.log"

echo "== superpixels"
"$py" benchmarks/bench_superpixels.py --device "$device" --batch-sizes "${sp_batches[@]}" \
  --sizes "${sizes[@]}" --repeats 2 --out "$out" 2>&1 | tee "$out/bench_superpixels.log"

echo "== volumes"
if [ "$device" = cuda ]; then vol=(--sizes 96 128 --batch-sizes 2 4); else vol=(--sizes 48 --batch-sizes 2); fi
"$py" benchmarks/bench_hsmix.py --volumes --device "$device" "${vol[@]}" --repeats 3 \
  --reference-images 1 --out "$out" 2>&1 | tee "$out/bench_hsmix_volumes.log" || status=1

echo "== summary ($device)"
grep -E "All Triton stages|stage\(s\) differ" "$out/check.log"
grep -E "passed|failed" "$out/gpu_tests.log" | tail -1
"$py" - "$out" "$device" <<'PY'
import csv, sys
out, device = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(f"{out}/bench_hsmix_{device}.csv")))
for r in rows:
    if r["channels"] == "rgb" and r["size"] == "224" and r["batch"] == "16":
        ratio = float(r["speedup_vs_reference"])
        ref = f"{ratio:.0f}x the reference" if ratio == ratio else "reference not timed"
        print(f"HSMix B=16 RGB 224 [{r['backend']}]: {float(r['total_ms']):.2f} ms, "
              f"{ref} ({r['device']})")
try:
    for r in csv.DictReader(open(f"{out}/bench_hsmix_{device}_volumes.csv")):
        print(f"HSMix volumes B={r['batch']} {r['size']}^3 [{r['backend']}]: "
              f"{float(r['total_ms']):.1f} ms, superpixels {float(r['superpixels_ms']):.1f} ms "
              f"({r['device']})")
except FileNotFoundError:
    pass
try:
    for r in csv.DictReader(open(f"{out}/cuda_graph.csv")):
        goal = f" (goals: eager {r['goal_eager_ms']}, graph {r['goal_graph_ms']} ms)"
        print(f"{r['what']} [{r['kernels']}] B={r['batch']} {r['size']} {r['channels']}: "
              f"eager {float(r['eager_ms']):.3f} ms, graph {float(r['graph_ms']):.3f} ms, "
              f"replay == eager: {r['replay_equals_eager']}{goal}")
except FileNotFoundError:
    pass
PY
exit $status
