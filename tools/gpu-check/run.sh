#!/usr/bin/env bash
# Runs on the GPU machine from the repository root: unpacks the bundle that pack.sh made, finds the CUDA 13
# libraries the image ships, and runs the check. The JSON lands in $OUT/gpu-check.json.
set -uo pipefail
bundle=.devbuild/gpu-check
work=/tmp/gpu-check
mkdir -p "$work"
xz -dc "$bundle/app.tar.xz" | tar -C "$work" -xf -
xz -dc "$bundle/provider.so.xz" > "$work/gpucheck/libonnxruntime_providers_cuda.so"
# The CUDA 13 runtime libraries come with PyTorch's pip wheels (site-packages/nvidia/cu13/lib); look there
# first, then in the usual system places.
pylibs=$(python3 -c 'import nvidia, os; [print(r) for p in nvidia.__path__ for r, _, _ in os.walk(p) if os.path.basename(r) == "lib"]' 2>/dev/null || true)
libs=$(find $pylibs /usr/local /opt /usr/lib \( -name 'libcublasLt.so.13*' -o -name 'libcublas.so.13*' -o -name 'libcudart.so.13*' -o -name 'libcurand.so.10*' \) 2>/dev/null \
  | xargs -r -n1 dirname | sort -u | tr '\n' ':')
echo "CUDA library folders: $libs"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
export LD_LIBRARY_PATH="${libs}${LD_LIBRARY_PATH:-}"
# Stage lines go to stderr; the JSON (reprinted after each stage) to a log, and the final one is shown once.
out="${OUT:-/tmp}"
"$work/gpucheck/GpuCheck" --out "$out/gpu-check.json" > "$out/gpu-check.log"
rc=$?
cat "$out/gpu-check.json" 2>/dev/null || tail -c 8000 "$out/gpu-check.log"
exit $rc
