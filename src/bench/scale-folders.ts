// Random-weight Hugging Face Llama-family folders of public models' shapes, for bench:scale. Each is
// config.json, model.safetensors in bf16 written tensor by tensor (a seeded generator fills one chunk
// at a time, so an 8 B model's 16 GB never sit in memory), the shipped base's byte-level tokenizer
// (its 257 ids fit every vocabulary; the model keeps its full vocab_size, so the logits cost what
// they cost), and training data cut from Moby-Dick. A folder whose recorded preset matches is reused.
import { existsSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../io/safetensors-write.js';
import { chunkText, mobyDick } from '../tasks/corpus.js';

export interface ScalePreset {
  readonly name: string;
  /** The public model whose shape this is. */
  readonly shapeOf: string;
  readonly modelType: 'llama' | 'qwen2';
  readonly hidden: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly vocab: number;
  readonly tied: boolean;
  readonly ropeTheta: number;
}

/** Shapes from each model's config.json on the Hugging Face Hub; `tiny` is for checking the bench itself. */
export const PRESETS: Readonly<Record<string, ScalePreset>> = {
  tiny: { name: 'tiny', shapeOf: '(a made-up check)', modelType: 'llama', hidden: 64, intermediate: 128, layers: 2, heads: 4, kvHeads: 2, vocab: 1024, tied: true, ropeTheta: 10000 },
  'smollm-135m': { name: 'smollm-135m', shapeOf: 'HuggingFaceTB/SmolLM-135M', modelType: 'llama', hidden: 576, intermediate: 1536, layers: 30, heads: 9, kvHeads: 3, vocab: 49152, tied: true, ropeTheta: 10000 },
  'qwen2.5-0.5b': { name: 'qwen2.5-0.5b', shapeOf: 'Qwen/Qwen2.5-0.5B', modelType: 'qwen2', hidden: 896, intermediate: 4864, layers: 24, heads: 14, kvHeads: 2, vocab: 151936, tied: true, ropeTheta: 1000000 },
  'llama-1b': { name: 'llama-1b', shapeOf: 'meta-llama/Llama-3.2-1B', modelType: 'llama', hidden: 2048, intermediate: 8192, layers: 16, heads: 32, kvHeads: 8, vocab: 128256, tied: true, ropeTheta: 500000 },
  'llama-3b': { name: 'llama-3b', shapeOf: 'meta-llama/Llama-3.2-3B', modelType: 'llama', hidden: 3072, intermediate: 8192, layers: 28, heads: 24, kvHeads: 8, vocab: 128256, tied: true, ropeTheta: 500000 },
  'llama-8b': { name: 'llama-8b', shapeOf: 'meta-llama/Llama-3.1-8B', modelType: 'llama', hidden: 4096, intermediate: 14336, layers: 32, heads: 32, kvHeads: 8, vocab: 128256, tied: false, ropeTheta: 500000 },
};

const BASE_DIR = fileURLToPath(new URL('../../models/lorapro-base/', import.meta.url));
const EOS = 256; // the shipped tokenizer's <|endoftext|>
const MARKER = 'bench-scale.json';

/** config.json of a preset, as transformers writes it for these models. */
export function presetConfig(p: ScalePreset): Record<string, unknown> {
  return {
    architectures: [p.modelType === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: p.modelType,
    hidden_size: p.hidden,
    intermediate_size: p.intermediate,
    num_hidden_layers: p.layers,
    num_attention_heads: p.heads,
    num_key_value_heads: p.kvHeads,
    head_dim: p.hidden / p.heads,
    vocab_size: p.vocab,
    tie_word_embeddings: p.tied,
    rope_theta: p.ropeTheta,
    max_position_embeddings: 131072,
    rms_norm_eps: 1e-5,
    hidden_act: 'silu',
    bos_token_id: EOS,
    eos_token_id: EOS,
    torch_dtype: 'bfloat16',
  };
}

/** name, shape, and how it is filled: N(0, 0.02)-like uniform weights, ones for norms, zeros for biases. */
interface TensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly fill: 'random' | 'ones' | 'zeros';
}

/** The checkpoint's tensors in Hugging Face's names and order. */
export function presetTensors(p: ScalePreset): TensorSpec[] {
  const hd = p.hidden / p.heads;
  const q = p.heads * hd;
  const kv = p.kvHeads * hd;
  const out: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [p.vocab, p.hidden], fill: 'random' }];
  for (let i = 0; i < p.layers; i++) {
    const at = `model.layers.${i}`;
    const linear = (name: string, rows: number, cols: number, bias = false) => {
      out.push({ name: `${at}.${name}.weight`, shape: [rows, cols], fill: 'random' });
      if (bias) out.push({ name: `${at}.${name}.bias`, shape: [rows], fill: 'zeros' });
    };
    out.push({ name: `${at}.input_layernorm.weight`, shape: [p.hidden], fill: 'ones' });
    linear('self_attn.q_proj', q, p.hidden, p.modelType === 'qwen2');
    linear('self_attn.k_proj', kv, p.hidden, p.modelType === 'qwen2');
    linear('self_attn.v_proj', kv, p.hidden, p.modelType === 'qwen2');
    linear('self_attn.o_proj', p.hidden, q);
    out.push({ name: `${at}.post_attention_layernorm.weight`, shape: [p.hidden], fill: 'ones' });
    linear('mlp.gate_proj', p.intermediate, p.hidden);
    linear('mlp.up_proj', p.intermediate, p.hidden);
    linear('mlp.down_proj', p.hidden, p.intermediate);
  }
  out.push({ name: 'model.norm.weight', shape: [p.hidden], fill: 'ones' });
  if (!p.tied) out.push({ name: 'lm_head.weight', shape: [p.vocab, p.hidden], fill: 'random' });
  return out;
}

const CHUNK = 1 << 22; // values per write: 8 MB of bf16

/** bf16 bits of `n` values: seeded uniform with std 0.02 (xorshift32), or ones, or zeros. */
function fillChunk(out: Uint16Array, n: number, fill: TensorSpec['fill'], state: { s: number }): void {
  if (fill !== 'random') {
    out.fill(fill === 'ones' ? 0x3f80 : 0, 0, n);
    return;
  }
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const a = 0.02 * Math.sqrt(3); // uniform on [-a, a] has std 0.02
  let s = state.s;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    f[0] = ((s >>> 0) / 4294967296 - 0.5) * 2 * a;
    out[i] = u[0] >>> 16;
  }
  state.s = s;
}

/** Writes model.safetensors (bf16) one chunk at a time through an atomic temp file. */
async function writeCheckpoint(path: string, tensors: readonly TensorSpec[], seed: number): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = 2 * t.shape.reduce((a, b) => a * b, 1);
    header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  await writeFileAtomic(path, async (_handle, writeAt) => {
    await writeAt(prefix, 0);
    await writeAt(headerBytes, 8);
    let at = 8 + headerBytes.length;
    const chunk = new Uint16Array(CHUNK);
    for (const [i, t] of tensors.entries()) {
      const state = { s: (seed * 2654435761 + (i + 1) * 40503) >>> 0 || 1 };
      let left = t.shape.reduce((a, b) => a * b, 1);
      while (left > 0) {
        const n = Math.min(left, CHUNK);
        fillChunk(chunk, n, t.fill, state);
        await writeAt(new Uint8Array(chunk.buffer, 0, 2 * n), at);
        at += 2 * n;
        left -= n;
      }
    }
  });
}

/** Training and evaluation files of Moby-Dick pieces long enough to fill `length` byte tokens. */
function writeData(dir: string, length: number, examples: number): { train: string; eval: string } {
  const pieces = chunkText(mobyDick().chapters, 2 * length, length + 8); // ≥ length bytes, so every sequence is cut to exactly `length` tokens
  const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ text: pieces[(from + i) % pieces.length] })).join('\n') + '\n';
  const train = join(dir, `train-${length}.jsonl`);
  const evalFile = join(dir, `eval-${length}.jsonl`);
  if (!existsSync(train)) writeFileSync(train, lines(0, examples));
  if (!existsSync(evalFile)) writeFileSync(evalFile, lines(examples, 2));
  return { train, eval: evalFile };
}

/**
 * The preset's folder under `root`, written unless a folder of the same preset is there; and its data
 * files for sequences of `length` tokens, `examples` of them.
 */
export async function presetFolder(root: string, p: ScalePreset, o: { length: number; examples: number; log: (line: string) => void }): Promise<{ dir: string; train: string; eval: string }> {
  const dir = join(root, p.name);
  const marker = join(dir, MARKER);
  const wanted = JSON.stringify(p);
  if (!(existsSync(marker) && readFileSync(marker, 'utf8') === wanted)) {
    mkdirSync(dir, { recursive: true });
    const tensors = presetTensors(p);
    const params = tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    o.log(`writing ${dir}: ${p.shapeOf} shape, ${(params / 1e9).toFixed(2)} B parameters, ${((2 * params) / 2 ** 30).toFixed(1)} GiB of bf16`);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(presetConfig(p), null, 2) + '\n');
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(BASE_DIR, f), join(dir, f));
    await writeCheckpoint(join(dir, 'model.safetensors'), tensors, 1);
    writeFileSync(marker, wanted);
  }
  return { dir, ...writeData(dir, o.length, o.examples) };
}
