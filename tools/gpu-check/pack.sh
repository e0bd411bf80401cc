#!/usr/bin/env bash
# Builds the check-only bundle for the GPU machine into .devbuild/gpu-check (git-ignored), under the
# 64 MiB a device call may carry:
#   app.tar.xz       GpuCheck published self-contained and trimmed for linux-x64, without the CUDA provider
#   provider.so.xz   ONNX Runtime's CUDA provider with every non-sm_90 cubin zeroed (prune_fatbin.py):
#                    a copy that runs on H100/H200 only, for this check only
#   run.sh           what the device runs
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.devbuild/gpu-check"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
rm -rf "$out" && mkdir -p "$out"

dotnet publish "$root/tools/gpu-check" -c Release -r linux-x64 --self-contained true \
  -p:PublishTrimmed=true -p:TrimMode=full -p:TreatWarningsAsErrors=false -p:SuppressTrimAnalysisWarnings=true \
  -p:DebugType=none -p:InvariantGlobalization=true -o "$stage/gpucheck" >/dev/null
provider="$stage/gpucheck/libonnxruntime_providers_cuda.so"
mv "$provider" "$stage/provider.so"
# Pieces the check never loads: alternate GCs, tracing, crash dumps, TLS/crypto, ML.NET's native trainers, TensorRT.
( cd "$stage/gpucheck" && rm -f createdump libclrgc.so libclrgcexp.so libcoreclrtraceptprovider.so libmscordaccore.so libmscordbi.so \
    libSystem.Net.Security.Native.so libSystem.Security.Cryptography.Native.OpenSsl.so libSystem.IO.Compression.Native.so libonnxruntime_providers_tensorrt.so \
    libLdaNative.so libMklImports.so libSymSgdNative.so libCpuMathNative.so libFastTreeNative.so libMatrixFactorizationNative.so *.dbg *.xml )
strip --strip-unneeded "$stage/gpucheck/libonnxruntime.so"
"$stage/gpucheck/GpuCheck" --dry-run >/dev/null   # the trimmed build must still run

python3 "$root/tools/gpu-check/prune_fatbin.py" "$stage/provider.so" --keep 90 --out "$stage/provider.sm90.so"
tar -C "$stage" -cf - gpucheck | xz -9e -T2 > "$out/app.tar.xz"
xz -9e -T2 -c "$stage/provider.sm90.so" > "$out/provider.so.xz"
cp "$root/tools/gpu-check/run.sh" "$out/run.sh"
du -b "$out"/* | awk '{ s += $1; print } END { printf "%.1f MiB in all\n", s / 1048576 }'
