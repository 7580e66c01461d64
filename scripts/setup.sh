#!/usr/bin/env bash
# Sets up kdgpu on Debian 12: the Debian packages it needs, then the npm dependencies and the build.
#   chromium               ships SwiftShader, the Vulkan driver Dawn uses when there is no GPU, and
#                          the browser the end-to-end test drives
#   libvulkan1             the Vulkan loader Dawn opens
#   dataset-fashion-mnist  the default dataset, in /usr/share/datasets/fashion-mnist
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -f /usr/lib/chromium/vk_swiftshader_icd.json ] || need+=(chromium)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' || need+=(libvulkan1)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "kdgpu needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "Debian 12's own nodejs is 18; install Node 20+ (e.g. from your distribution's backports or nodejs.org) and rerun." >&2
  exit 1
fi

# onnxruntime-node (a dev dependency) ships its CPU binaries in the npm package; its install script
# would fetch CUDA libraries from NuGet on linux x64. package.json's allowScripts denies it where
# npm knows that field, and the variable skips it where npm does not: installing never reaches
# outside the npm registry.
ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
# The CLI and the library run from dist/: the bundles, and the type declarations for TypeScript users.
npm run --silent build
npm run --silent build:types
