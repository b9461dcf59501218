#!/usr/bin/env bash
# Prepares a self-contained GPU bench bundle for a Linux x64 machine with a GPU and nothing else:
# one bundled JS file (main/bench/gpu-bench.ts with tfjs, its WebGPU and wasm backends inlined),
# Dawn's linux-x64 dawn.node, the wasm binaries, this Node's binary compressed with xz, the
# PyTorch baseline script, the Vulkan loader's .deb (for machines without libvulkan1) and run.sh.
# Usage: npm run bench:gpu:bundle [-- out-folder]   (default dist/gpu-bench; npm run build first)
# On the GPU machine: ./run.sh [gpu-bench options], e.g. ./run.sh --presets cpu-small,resnet18 --seconds 20
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-dist/gpu-bench}"
rm -rf "$out"
mkdir -p "$out/node_modules/webgpu/dist/linux-x64" "$out/wasm" "$out/debs"
# One file: everything but Dawn's package (it loads dawn.node beside itself) and the native tfjs engines.
# The CommonJS parts (the wasm backend's loader) use require() and __dirname: give the ES module them.
banner="import { createRequire as __jr } from 'node:module'; import { fileURLToPath as __jf } from 'node:url'; import { dirname as __jd } from 'node:path';"
banner="$banner const require = __jr(import.meta.url); const __filename = __jf(import.meta.url); const __dirname = __jd(__filename);"
npx rolldown main/bench/gpu-bench.ts --platform node --format esm --no-codeSplitting --banner "$banner" \
  --external webgpu,@tensorflow/tfjs-node,@tensorflow/tfjs-node-gpu --file "$out/gpu-bench.mjs" >/dev/null
cp node_modules/webgpu/package.json node_modules/webgpu/index.js node_modules/webgpu/LICENSE.md "$out/node_modules/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$out/node_modules/webgpu/dist/linux-x64/"
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$out/wasm/"
cp test/bench/torch_jigclu_step.py scaleout/jigclu_ddp.py "$out/"
xz -T0 -6 -c "$(command -v node)" > "$out/node.xz"
# The Vulkan loader (amd64), for GPU machines whose image lacks libvulkan1.
if command -v apt-get >/dev/null 2>&1; then
  lists="$(mktemp -d)"
  opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists="$lists")
  mkdir -p "$lists/partial"
  if apt-get "${opts[@]}" update -qq >/dev/null 2>&1 && (cd "$out/debs" && apt-get "${opts[@]}" download libvulkan1 >/dev/null 2>&1); then :; else
    echo "warning: could not download libvulkan1: the bundle needs a machine with the Vulkan loader installed" >&2
  fi
  rm -rf "$lists"
fi
cat > "$out/run.sh" <<'RUN'
#!/bin/sh
# Runs the GPU bench: ./run.sh [--engines webgpu,wasm] [--presets cpu-small,resnet18,paper] [--seconds 10] [--batch N] [--json out.json]
set -e
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$here/node" ] || { xz -dc "$here/node.xz" > "$here/node"; chmod +x "$here/node"; }
# No Vulkan loader: unpack the bundled one (needs root).
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  for f in "$here"/debs/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done
  ldconfig
fi
# NVIDIA containers keep the Vulkan ICD outside the loader's search path.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
cd "$here"
JIGCLU_WASM_DIR="$here/wasm" exec "$here/node" "$here/gpu-bench.mjs" "$@"
RUN
chmod +x "$out/run.sh"
du -sh "$out"
echo "GPU bench bundle in $out: copy the folder to the GPU machine and run ./run.sh there."
