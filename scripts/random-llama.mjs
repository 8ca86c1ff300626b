// Writes a random-weight Llama folder in bf16 of a given shape, one tensor at a time (never the whole
// model in float32), with a tiny word-level tokenizer: for checking memory by hand, e.g.
//   node scripts/random-llama.mjs /tmp/llama-110m 1024 4 2816 32000 16 4
//   /usr/bin/time -v node dist/cli/main.js train --model /tmp/llama-110m --train DATA --task causal-lm --method lora ...
// Arguments: DIR hidden layers intermediate vocab heads kv-heads (defaults: a 110 M-parameter shape).
// Needs the compiled dist/ (npx tsc -p tsconfig.json).
import { copyFileSync, mkdirSync, mkdtempSync, openSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '../dist/train/testing.js';

const [dir, d = 1024, L = 4, I = 2816, V = 32000, H = 16, KV = 4] = process.argv.slice(2).map((x, i) => (i === 0 ? x : Number(x)));
if (!dir) throw new Error('usage: node scripts/random-llama.mjs DIR [hidden layers intermediate vocab heads kv-heads]');
mkdirSync(dir, { recursive: true });
const hd = d / H;
const shapes = [['model.embed_tokens.weight', [V, d]]];
for (let l = 0; l < L; l++) {
  const p = `model.layers.${l}.`;
  shapes.push([p + 'input_layernorm.weight', [d]], [p + 'post_attention_layernorm.weight', [d]]);
  shapes.push([p + 'self_attn.q_proj.weight', [H * hd, d]], [p + 'self_attn.k_proj.weight', [KV * hd, d]], [p + 'self_attn.v_proj.weight', [KV * hd, d]], [p + 'self_attn.o_proj.weight', [d, H * hd]]);
  shapes.push([p + 'mlp.gate_proj.weight', [I, d]], [p + 'mlp.up_proj.weight', [I, d]], [p + 'mlp.down_proj.weight', [d, I]]);
}
shapes.push(['model.norm.weight', [d]], ['lm_head.weight', [V, d]]);

// safetensors: 8-byte header length, JSON header, then each tensor's little-endian bf16 bytes
const header = {};
let offset = 0;
for (const [name, shape] of shapes) {
  const bytes = 2 * shape.reduce((a, b) => a * b, 1);
  header[name] = { dtype: 'BF16', shape, data_offsets: [offset, offset + bytes] };
  offset += bytes;
}
let json = JSON.stringify({ __metadata__: { format: 'pt' }, ...header });
json += ' '.repeat((8 - (json.length % 8)) % 8);
const fd = openSync(join(dir, 'model.safetensors'), 'w');
const len = Buffer.alloc(8);
len.writeBigUInt64LE(BigInt(json.length));
writeSync(fd, len);
writeSync(fd, Buffer.from(json));
let s = 12345;
for (const [, shape] of shapes) {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Uint16Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < n; i++) {
    if (shape.length === 1) f[0] = 1; // norms at 1
    else {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      f[0] = (s / 2 ** 32 - 0.5) * 0.0693; // uniform with std 0.02
    }
    out[i] = u[0] >>> 16;
  }
  writeSync(fd, new Uint8Array(out.buffer));
}
closeSync(fd);
writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: V, hidden_size: d, intermediate_size: I, num_hidden_layers: L, num_attention_heads: H, num_key_value_heads: KV, max_position_embeddings: 4096, tie_word_embeddings: false, torch_dtype: 'bfloat16', bos_token_id: 2, eos_token_id: 3, pad_token_id: 0 }, null, 2));
const tiny = await writeTinyModel(mkdtempSync(join(tmpdir(), 'lorapro-tok-')), 'llama');
for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(tiny, f), join(dir, f));
console.log(`${dir}: ${(offset / 2 ** 20).toFixed(0)} MiB of bf16 weights, ${(offset / 2 / 1e6).toFixed(0)} M parameters`);
