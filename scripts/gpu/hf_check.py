"""The Python half of scripts/gpu/run.sh: lorapro held against transformers and PEFT, and PEFT LoRA's
training throughput on CUDA at the shapes src/bench/gpu.ts times (scripts/gpu/shapes.json).

  make DIR            a random LlamaForCausalLM(config).save_pretrained(DIR/base) at shapes.json's "tiny",
                      DIR/ids.json, its logits (DIR/base_logits.json), a PEFT adapter with B != 0
                      (init_lora_weights=False) in DIR/peft_adapter and the logits with it (DIR/peft_logits.json)
  compare A B         max |A - B| over max |B| of two logits files; exit 1 past 1e-4
  peft-load DIR AD    PeftModel.from_pretrained(DIR/base, AD): its logits on DIR/ids.json to AD/peft_logits.json
  speed               PEFT LoRA (r 8, alpha 16, all-linear, AdamW, clip 1, float32) tokens/s on CUDA, one JSON line per shape

Logits files are {"shape": [B, T, V], "values": [...]} as src/bench/gpu.ts writes them.
"""
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

SHAPES = json.loads((Path(__file__).parent / "shapes.json").read_text())


def config(name):
    return LlamaConfig(**{k: v for k, v in SHAPES[name].items() if k != "model_type"})


def logits_of(model, ids):
    with torch.no_grad():
        y = model(input_ids=torch.tensor(ids)).logits.float()
    return {"shape": list(y.shape), "values": y.flatten().tolist()}


def lora_config(init=True):
    return LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", lora_dropout=0.0, init_lora_weights=init)


def make(out):
    out = Path(out)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config("tiny")).eval()
    model.save_pretrained(out / "base", safe_serialization=True)
    ids = torch.randint(0, SHAPES["tiny"]["vocab_size"], (2, 12), generator=torch.Generator().manual_seed(1)).tolist()
    (out / "ids.json").write_text(json.dumps(ids))
    (out / "base_logits.json").write_text(json.dumps(logits_of(model, ids)))
    peft = get_peft_model(model, lora_config(init=False)).eval()  # B random: the adapter changes the outputs
    peft.save_pretrained(out / "peft_adapter")
    (out / "peft_logits.json").write_text(json.dumps(logits_of(peft, ids)))


def compare(a, b, tol=1e-4):
    x, y = (json.loads(Path(p).read_text()) for p in (a, b))
    assert x["shape"] == y["shape"], f"shapes {x['shape']} vs {y['shape']}"
    worst = max(abs(u - v) for u, v in zip(x["values"], y["values"]))
    scale = max(abs(v) for v in y["values"])
    ok = worst <= tol * scale
    print(json.dumps({"a": a, "b": b, "max_abs_diff": worst, "max_abs": scale, "relative": worst / scale, "ok": ok}))
    return ok


def peft_load(base_dir, adapter):
    base = LlamaForCausalLM.from_pretrained(Path(base_dir) / "base", torch_dtype=torch.float32).eval()
    model = PeftModel.from_pretrained(base, adapter).eval()
    ids = json.loads((Path(base_dir) / "ids.json").read_text())
    (Path(adapter) / "peft_logits.json").write_text(json.dumps(logits_of(model, ids)))


def speed(shapes=("smollm-135m", "llama-3.2-1b"), batch=4, context=256, steps=8, warmup=2):
    torch.manual_seed(0)
    for name in shapes:
        model = get_peft_model(LlamaForCausalLM(config(name)).cuda(), lora_config()).train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.0)
        ids = torch.randint(0, SHAPES[name]["vocab_size"], (batch, context), device="cuda")
        ms = []
        for i in range(warmup + steps):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            loss.item()
            torch.cuda.synchronize()
            if i >= warmup:
                ms.append((time.perf_counter() - t0) * 1000)
        step_ms = statistics.median(ms)
        print(json.dumps({"shape": name, "method": "lora (PEFT)", "engine": f"PyTorch {torch.__version__} CUDA {torch.cuda.get_device_name()}",
                          "batch": batch, "context": context, "medianStepMs": step_ms, "tokensPerSec": batch * context * 1000 / step_ms}), flush=True)
        del model, opt
        torch.cuda.empty_cache()


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "make":
        make(*args)
    elif cmd == "compare":
        sys.exit(0 if compare(*args) else 1)
    elif cmd == "peft-load":
        peft_load(*args)
    elif cmd == "speed":
        speed()
    else:
        sys.exit(f"unknown command {cmd}")
