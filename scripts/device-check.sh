#!/usr/bin/env bash
# On a machine with a GPU (see scripts/device-pack.sh): verify every kernel on
# the GPU, the kernel benchmarks, kdgpu's training steps, and a short distillation; results go to
# $OUT (verify.json, kernels.json, steps.json, profile-*.json, train.txt, distill.txt, log.txt). ADAPTER=swiftshader runs the
# same here, for trying the script without a GPU.
set -uo pipefail
ROOT=$(pwd)
OUT=${OUT:-$ROOT/.device/out}
ADAPTER=${ADAPTER:-gpu}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
if [ "$ADAPTER" = gpu ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  ldd "$(find /usr/local/nvidia -name 'libGLX_nvidia.so.0' | head -1)" | grep 'not found' || true
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
fi
KIT=/tmp/kdgpu-kit
rm -rf "$KIT" && mkdir -p "$KIT" && tar -C "$KIT" -xJf .device/kit.tar.xz
cp -r shaders models "$KIT"/ 2>/dev/null || true
cd "$KIT"
NODE=$KIT/bin/node
KD="$NODE kdgpu-bin/kdgpu.js"
DATA=$ROOT/.device/data
step() { echo; echo "== $*"; date -u +%T; }
# PARTS: which checks to run (default all), e.g. PARTS="verify profile".
PARTS=${PARTS:-verify kernels steps profile train distill}
want() { case " $PARTS " in *" $1 "*) return 0;; *) return 1;; esac; }
if want verify; then step verify;  $KD verify --adapter "$ADAPTER" --json > "$OUT/verify.json"; echo "exit $?"; [ -s "$OUT/verify.json" ] || { echo "no adapter: stopping here"; exit 1; }; $NODE -e 'const r=require(process.argv[1]); const bad=r.rows.filter((x)=>!x.pass); console.log(`${r.adapter}: ${r.rows.length} checks, ${bad.length} failed, unverified: ${r.unverified.length}`); for (const b of bad.slice(0, 20)) console.log(JSON.stringify(b));' "$OUT/verify.json"; fi
if want kernels; then step kernels; $KD bench kernels --adapter "$ADAPTER" --json "$OUT/kernels.json"; fi
# All three backends, alternating; a GPU step takes milliseconds, so many more steps per round
# than the SwiftShader plan (ADAPTER=swiftshader here: the quick plan, student only).
if [ "$ADAPTER" = gpu ]; then STEPS="--rounds 3 --warmup 5 --per-round 10"; else STEPS="--quick"; fi
if want steps; then step steps;   $NODE dist/bench-steps.js $STEPS --adapter "$ADAPTER" --data-dir "$DATA" --json "$OUT/steps.json"; fi
if want profile; then step profile; for m in student-cnn teacher-cnn; do $KD bench profile --model $m --steps 5 --data-dir "$DATA" --adapter "$ADAPTER" --json "$OUT/profile-$m.json"; done; fi
if want train; then step train;   $KD train --model teacher-cnn --epochs 1 --train-subset 10000 --data-dir "$DATA" --no-progress --adapter "$ADAPTER" --out /tmp/teacher-gpu.safetensors --overwrite | tee "$OUT/train.txt"; fi
if want distill; then step distill; $KD distill --teacher models/teacher-cnn.safetensors --method kd+lr+ds --epochs 3 --train-subset 8000 --val-split 2000 --data-dir "$DATA" --no-progress --adapter "$ADAPTER" | tee "$OUT/distill.txt"; fi
step done
