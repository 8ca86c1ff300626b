#!/usr/bin/env bash
# One run on a lent GPU machine (no Node there; python3 with torch, transformers and peft): lorapro's
# LoRA and LoRA-Pro tokens/s on webgpu (Dawn over the NVIDIA Vulkan driver) against PEFT LoRA on
# PyTorch CUDA at SmolLM-135M and Llama-3.2-1B shapes, and the transformers/PEFT checks. Prepare here:
#   npx tsc -p tsconfig.json && bash scripts/gpu/pack.sh          # gpu-carry/, under 64 MiB
# then, with the device tool: command "bash scripts/gpu/run.sh", carry ["gpu-carry"], timeout ~540 s.
# Writes $OUT/results.jsonl (every measured line, with the date and card) and $OUT/log.txt; a failed
# part is logged and the rest still runs. DRY=1 checks the plumbing only (no GPU needed).
set -uo pipefail
repo=$(pwd)
out=${OUT:-$repo/gpu-out}
carry=$repo/gpu-carry
work=$(mktemp -d)
mkdir -p "$out"
exec > >(tee -a "$out/log.txt") 2>&1
results=$out/results.jsonl
say() { echo "== $(date -u +%H:%M:%S) $*"; }

tar -C "$work" -xJf "$carry/node.tar.xz" && tar -C "$work" -xJf "$carry/lorapro.tar.xz"
node=$work/node/bin/node
lp=$work/lorapro
deb=$(ls "$carry"/libvulkan1_*.deb 2>/dev/null | head -1)
if [ -n "$deb" ]; then dpkg-deb -x "$deb" "$work/vk" && export LD_LIBRARY_PATH=$work/vk/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}; fi
# The NVIDIA driver ships its Vulkan ICD as nvidia_icd.json under a share/vulkan/icd.d (or /etc/vulkan/icd.d).
icd=$(find /usr/share/vulkan /etc/vulkan /usr/local/share/vulkan /usr/lib* /opt -name 'nvidia_icd*.json' 2>/dev/null | head -1)
[ -n "$icd" ] && export VK_ICD_FILENAMES=$icd
export XDG_RUNTIME_DIR=$work/xdg && mkdir -m 700 -p "$XDG_RUNTIME_DIR"
card=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
echo "{\"date\": \"$(date -u +%FT%TZ)\", \"card\": \"$card\", \"icd\": \"$icd\", \"node\": \"$($node --version)\"}" >> "$results"
say "card: $card; ICD: ${icd:-none}"
bench() { LORAPRO_BACKEND=webgpu "$node" "$lp/dist/bench/gpu.js" "$@"; }
py() { python3 "$lp/scripts/gpu/hf_check.py" "$@"; }
if [ "${DRY:-0}" = 1 ]; then bench speed --shapes tiny --steps 1 --warmup 0 --batch 1 --context 8; exit $?; fi

say "1. transformers/PEFT checks (webgpu)"
hf=$work/hf
py make "$hf" \
  && bench logits --model "$hf/base" --ids "$hf/ids.json" --out "$hf/lorapro_base_logits.json" \
  && py compare "$hf/lorapro_base_logits.json" "$hf/base_logits.json" >> "$results" \
  ; bench logits --model "$hf/base" --ids "$hf/ids.json" --adapter "$hf/peft_adapter" --out "$hf/lorapro_peft_logits.json" \
  && py compare "$hf/lorapro_peft_logits.json" "$hf/peft_logits.json" >> "$results" \
  ; bench adapter --model "$hf/base" --out "$hf/lorapro_adapter" \
  && bench logits --model "$hf/base" --ids "$hf/ids.json" --adapter "$hf/lorapro_adapter" --out "$hf/lorapro_adapter/lorapro_logits.json" \
  && py peft-load "$hf" "$hf/lorapro_adapter" \
  && py compare "$hf/lorapro_adapter/lorapro_logits.json" "$hf/lorapro_adapter/peft_logits.json" >> "$results"
tail -3 "$results"

say "2. tokens/s: PyTorch CUDA (PEFT LoRA), then lorapro webgpu (LoRA, LoRA-Pro); batch 4 x 256 tokens"
timeout 150 python3 "$lp/scripts/gpu/hf_check.py" speed >> "$results"
timeout 300 env LORAPRO_BACKEND=webgpu "$node" "$lp/dist/bench/gpu.js" speed --shapes smollm-135m,llama-3.2-1b --methods lora,lora-pro >> "$results"
say "done"; cat "$results"
