#!/usr/bin/env bash
# Training speed of the project against PyTorch at equal architectures, side by side in one run (issue #16):
# one epoch of SharedBottom, ESMM and MMoE over the same generated training split, batch 2048, 2 threads.
# Not part of .ci/run. Needs Debian's python3-torch and libopenblas0-pthread (apt-get install python3-torch
# libopenblas0-pthread); with the reference BLAS instead, torch runs 20-30x slower and the comparison means nothing,
# so the script checks torch's SGEMM first.
# REPEATS > 1 runs both sides that many times, alternating, and compares the best figure of each: on a shared
# machine a neighbour only ever slows a run down, so the best of a few is the least disturbed.
# usage: tools/torch-reference/compare.sh [DATA_DIR] [THREADS] [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-${TMPDIR:-/tmp}/rec-torch-compare}
threads=${2:-2}
repeats=${3:-1}
[[ $threads =~ ^[1-9][0-9]*$ && $repeats =~ ^[1-9][0-9]*$ ]] || { echo "error: THREADS and REPEATS must be positive integers, got '$threads' and '$repeats'" >&2; exit 2; }
python=/usr/bin/python3
dotnet build -c Release Recommender.Pipeline -v q -nologo > /dev/null
app="dotnet Recommender.Pipeline/bin/Release/net10.0/Recommender.Pipeline.dll"
[ -f "$data/train.csv" ] || $app generate --rows 1000000 --crosses false --history 0 --out "$data" > /dev/null
# Two thread pools spinning against each other on 2 cores cost torch 2.5x: passive waits.
export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
[ -d /usr/lib/x86_64-linux-gnu/openblas-pthread ] && export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
echo "cpu: $cpu; threads $threads; data $data; best of $repeats"
printf '%-13s %10s %10s %6s | %12s %12s %6s | %9s %9s | %6s %6s\n' architecture train/s torch ratio infer/s torch ratio params torch sgemm torch
for arch in SharedBottom Esmm Mmoe; do
  ours=() torch=()
  for ((r = 0; r < repeats; r++)); do
    ours+=("$($app bench train --data "$data" --architecture $arch --threads "$threads" 2>/dev/null)")
    torch+=("$($python tools/torch-reference/train_reference.py "$data" $arch "$threads")")
  done
  $python - "$arch" "$repeats" "${ours[@]}" "${torch[@]}" <<'PY'
import json, sys
arch, n = sys.argv[1], int(sys.argv[2])
ours = [json.loads(s) for s in sys.argv[3:3 + n]]
torch = [json.loads(s) for s in sys.argv[3 + n:3 + 2 * n]]
if min(t["sgemm_gflops"] for t in torch) < 20: sys.exit(f"torch's SGEMM runs at {min(t['sgemm_gflops'] for t in torch)} GFLOP/s: the reference BLAS, not OpenBLAS")
best = lambda runs, key: max(r[key] for r in runs)
o_train, t_train = best(ours, "samples_per_s"), best(torch, "samples_per_s")
o_infer, t_infer = best(ours, "inference_rows_per_s"), best(torch, "inference_rows_per_s")
print(f"{arch:13s} {o_train:10,.0f} {t_train:10,.0f} {o_train / t_train:5.2f}x | "
      f"{o_infer:12,.0f} {t_infer:12,.0f} {o_infer / t_infer:5.2f}x | "
      f"{ours[0]['dense_parameters']:9,d} {torch[0]['dense_parameters']:9,d} | {best(ours, 'sgemm_gflops'):6.0f} {best(torch, 'sgemm_gflops'):6.0f}")
PY
done
