#!/usr/bin/env bash
# Training speed of the project against PyTorch at equal architectures, side by side in one run (issue #16):
# one epoch of SharedBottom, ESMM and MMoE over the same generated training split, batch 2048, 2 threads.
# Not part of .ci/run. Needs Debian's python3-torch and libopenblas0-pthread (apt-get install python3-torch
# libopenblas0-pthread); with the reference BLAS instead, torch runs 20-30x slower and the comparison means nothing,
# so the script checks torch's SGEMM first.
# usage: tools/torch-reference/compare.sh [DATA_DIR] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-${TMPDIR:-/tmp}/rec-torch-compare}
threads=${2:-2}
python=/usr/bin/python3
dotnet build -c Release Recommender.Pipeline -v q -nologo > /dev/null
app="dotnet Recommender.Pipeline/bin/Release/net10.0/Recommender.Pipeline.dll"
[ -f "$data/train.csv" ] || $app generate --rows 1000000 --out "$data" > /dev/null
# Two thread pools spinning against each other on 2 cores cost torch 2.5x: passive waits.
export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
[ -d /usr/lib/x86_64-linux-gnu/openblas-pthread ] && export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
echo "cpu: $cpu; threads $threads; data $data"
printf '%-13s %10s %10s %6s | %12s %12s %6s | %9s %9s | %6s %6s\n' architecture train/s torch ratio infer/s torch ratio params torch sgemm torch
for arch in SharedBottom Esmm Mmoe; do
  ours=$($app bench train --data "$data" --architecture $arch --threads "$threads" 2>/dev/null)
  torch=$($python tools/torch-reference/train_reference.py "$data" $arch "$threads")
  $python - "$arch" "$ours" "$torch" <<'PY'
import json, sys
arch, ours, torch = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
if torch["sgemm_gflops"] < 20: sys.exit(f"torch's SGEMM runs at {torch['sgemm_gflops']} GFLOP/s: the reference BLAS, not OpenBLAS")
print(f"{arch:13s} {ours['samples_per_s']:10,.0f} {torch['samples_per_s']:10,.0f} {ours['samples_per_s'] / torch['samples_per_s']:5.2f}x | "
      f"{ours['inference_rows_per_s']:12,.0f} {torch['inference_rows_per_s']:12,.0f} {ours['inference_rows_per_s'] / torch['inference_rows_per_s']:5.2f}x | "
      f"{ours['dense_parameters']:9,d} {torch['dense_parameters']:9,d} | {ours['sgemm_gflops']:6.0f} {torch['sgemm_gflops']:6.0f}")
PY
done
