#!/usr/bin/env bash
# Pack what a GPU machine needs to run kdgpu's checks (it has no
# Node and no Vulkan loader, and only the working tree plus up to 8 carried paths travel, 64 MiB
# in all). Run here after `npm run build`; it writes .device/ (git-ignored):
#   kit.tar.xz   node, the built CLI and benchmarks, the runtime modules (commander, cli-progress
#                and its deps, webgpu with its linux-x64 dawn.node only, TensorFlow.js pruned to its
#                Node bundles for the steps benchmark's peers)
#   data/        Fashion-MNIST: the test set and the first 10,000 training images (IDX, gzip)
# and .gl/ (the Vulkan loader packages, per the device tool's README). Then, with the device tool:
#   run(command: "bash scripts/device-check.sh", carry: [".device", ".gl"], timeout_s: 540)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/cli.js ] || { echo "run npm run build first" >&2; exit 1; }
rm -rf .device && mkdir -p .device/data .device/stage/node_modules .device/stage/bin .device/stage/dist
cp "$(readlink -f "$(command -v node)")" .device/stage/bin/node
cp dist/cli.js dist/bench-steps.js dist/bench-peer-kdgpu.js dist/bench-peer-tfjs.js dist/bench-soak.js .device/stage/dist/
cp -r bin .device/stage/kdgpu-bin
for m in commander cli-progress string-width emoji-regex is-fullwidth-code-point strip-ansi ansi-regex; do
  cp -r "node_modules/$m" .device/stage/node_modules/
done
mkdir -p .device/stage/node_modules/webgpu/dist
cp node_modules/webgpu/index.js node_modules/webgpu/package.json .device/stage/node_modules/webgpu/
cp -r node_modules/webgpu/dist/linux-x64 .device/stage/node_modules/webgpu/dist/
# The peers of the steps benchmark (TensorFlow.js webgpu and wasm), pruned to what Node loads.
node scripts/device-kit-modules.mjs .device/stage @tensorflow/tfjs @tensorflow/tfjs-backend-webgpu @tensorflow/tfjs-backend-wasm
cp package.json .device/stage/
tar -C .device/stage -cJf .device/kit.tar.xz .
rm -rf .device/stage
# The data: the whole test set, and a 10,000-image training subset (the full set is 26 MB).
src=/usr/share/datasets/fashion-mnist
cp "$src"/t10k-*.gz .device/data/
node -e '
  const { gunzipSync, gzipSync } = require("node:zlib"); const fs = require("node:fs");
  const [src, dst, n] = process.argv.slice(1);
  for (const [name, header, per] of [["train-images-idx3-ubyte.gz", 16, 784], ["train-labels-idx1-ubyte.gz", 8, 1]]) {
    const raw = gunzipSync(fs.readFileSync(`${src}/${name}`));
    const out = Buffer.from(raw.subarray(0, header + Number(n) * per));
    out.writeUInt32BE(Number(n), 4);
    fs.writeFileSync(`${dst}/${name}`, gzipSync(out));
  }' "$src" .device/data 10000
# The Vulkan loader and glvnd (NVIDIA's Vulkan ICD is libGLX_nvidia.so.0, which needs libGLdispatch;
# the device tool's README: amd64 packages, unpacked there with dpkg -x).
if [ ! -d .gl ]; then
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update -qq && (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
du -sh .device .gl
