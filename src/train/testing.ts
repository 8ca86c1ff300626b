// Helpers for the training and CLI tests (not public API): a tiny model folder with a word-level
// tokenizer, and small datasets written as JSONL.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { parseModelConfig } from '../io/hf-config.js';
import { createModel } from '../models/auto.js';
import { randomInit } from '../models/layers.js';
import { savePretrained } from '../models/pretrained.js';
import { Rng } from '../math/rng.js';
import { trainConfig, type TrainConfig } from './config.js';

const SPECIALS = ['<pad>', '<unk>', '<s>', '</s>'];
const WORDS = [
  'the', 'a', 'movie', 'film', 'plot', 'cast', 'was', 'is', 'very', 'really', 'not', 'and', 'but',
  'good', 'great', 'fun', 'lovely', 'bad', 'awful', 'boring', 'dull', 'i', 'liked', 'hated', 'it',
  'what', 'two', 'plus', 'three', 'four', 'five', 'answer', ':', '?', '.', 'user', 'assistant',
];
export const TINY_VOCAB = [...SPECIALS, ...WORDS];

const CHAT_TEMPLATE = "{% for m in messages %}{{ m.role }} : {{ m.content }} </s> {% endfor %}{% if add_generation_prompt %}assistant : {% endif %}";

function tokenizerFiles(): Record<string, unknown> {
  const added = SPECIALS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  return {
    'tokenizer.json': {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
      model: { type: 'WordLevel', vocab: Object.fromEntries(TINY_VOCAB.map((w, i) => [w, i])), unk_token: '<unk>' },
    },
    'tokenizer_config.json': { bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', model_max_length: 64, chat_template: CHAT_TEMPLATE },
  };
}

export type TinyArch = 'gpt2' | 'llama' | 't5';

/** config.json of a tiny model over TINY_VOCAB. */
export function tinyConfig(arch: TinyArch): Record<string, unknown> {
  const common = { vocab_size: TINY_VOCAB.length, bos_token_id: 2, eos_token_id: 3, pad_token_id: 0 };
  if (arch === 'gpt2') return { model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_positions: 48, n_embd: 16, n_layer: 2, n_head: 2, ...common };
  if (arch === 't5') {
    const t5 = { d_model: 16, d_kv: 8, d_ff: 32, num_layers: 2, num_heads: 2, relative_attention_num_buckets: 8, relative_attention_max_distance: 16, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false };
    return { model_type: 't5', architectures: ['T5ForConditionalGeneration'], ...t5, ...common, decoder_start_token_id: 0 };
  }
  return {
    model_type: 'llama',
    architectures: ['LlamaForCausalLM'],
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 48,
    tie_word_embeddings: false,
    ...common,
  };
}

/** Writes a randomly initialised tiny causal LM (or T5) with its tokenizer into `dir` (created), its weights stored as `dtype`. */
export async function writeTinyModel(dir: string, arch: TinyArch = 'gpt2', seed = 1, dtype: 'F32' | 'BF16' = 'F32'): Promise<string> {
  await tf.ready();
  mkdirSync(dir, { recursive: true });
  const config = parseModelConfig(tinyConfig(arch), `tiny ${arch}`);
  const model = createModel(config, { task: arch === 't5' ? 'sequence-classification' : 'causal-lm', init: randomInit(seed, 0.1) });
  try {
    await savePretrained(model, dir, { dtype });
  } finally {
    model.dispose();
  }
  for (const [name, content] of Object.entries(tokenizerFiles())) writeFileSync(join(dir, name), JSON.stringify(content));
  return dir;
}

/**
 * A tiny GPT-2 folder, 40 sentiment records to train on and 12 to evaluate, in a fresh folder, and
 * `config(over)`: a lora classification run of 8 steps writing into a new folder each call.
 */
export async function classificationFixture(): Promise<{ root: string; model: string; config: (over?: Record<string, unknown>) => TrainConfig }> {
  const root = tempDir();
  const model = await writeTinyModel(join(root, 'gpt2'), 'gpt2');
  const train = writeJsonl(join(root, 'cls.jsonl'), sentimentRecords(40, 1));
  const evalFile = writeJsonl(join(root, 'cls-dev.jsonl'), sentimentRecords(12, 2));
  let runs = 0;
  const config = (over: Record<string, unknown> = {}) =>
    trainConfig({ model, train, eval: evalFile, task: 'classification', method: 'lora', maxSteps: 8, batchSize: 8, out: join(root, `run-${runs++}`), ...over });
  return { root, model, config };
}

/** A fresh temporary folder. */
export function tempDir(prefix = 'lorapro-train-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeJsonl(path: string, records: readonly unknown[]): string {
  writeFileSync(path, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
}

const POSITIVE = ['good', 'great', 'fun', 'lovely'];
const NEGATIVE = ['bad', 'awful', 'boring', 'dull'];

/** `n` sentiment records {text, label} with labels "pos"/"neg", learnable from one word. */
export function sentimentRecords(n: number, seed = 0): { text: string; label: string }[] {
  const rng = new Rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  return Array.from({ length: n }, (_, i) => {
    const positive = i % 2 === 0;
    const text = `${pick(['the', 'a'])} ${pick(['movie', 'film', 'plot', 'cast'])} ${pick(['was', 'is'])} ${pick(['very', 'really', ''])} ${pick(positive ? POSITIVE : NEGATIVE)}`.replace(/\s+/g, ' ');
    return { text, label: positive ? 'pos' : 'neg' };
  });
}

const NUMBERS = ['two', 'three', 'four', 'five'];

/** `n` causal-LM records mixing {text}, {prompt, completion} and {messages}. */
export function lmRecords(n: number, seed = 0): Record<string, unknown>[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const a = NUMBERS[rng.int(NUMBERS.length)];
    if (i % 3 === 0) return { text: `i liked the movie and it was ${a === 'two' ? 'good' : 'great'} .` };
    if (i % 3 === 1) return { prompt: `what is ${a} plus two ?`, completion: ` answer : ${a} .` };
    return { messages: [{ role: 'user', content: `what is ${a} ?` }, { role: 'assistant', content: `${a} .` }] };
  });
}
