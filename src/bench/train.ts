// Training throughput of full fine-tuning, LoRA and LoRA-Pro on a randomly initialised decoder of
// d = 128, 4 layers, 4 heads, context 128, batch 16, with synthetic tokens: one training step is the
// trainer's (gradients of the causal-LM loss by tf.variableGrads, then the method's optimiser),
// drained by reading the loss back. Warm-up rounds, then the median step time, the three methods
// timed in interleaved rounds so load from other processes hits them alike.
// Run: `npx tsc -p . && node dist/bench/train.js [--backend wasm|cpu] [--arch gpt2|llama] [--iters N] [--profile] [--json]`.
import os from 'node:os';
import { tf } from '../engine/tf.js';
import { setTraining } from '../adapters/inject.js';
import { useBackend } from '../engine/backend.js';
import { parseModelConfig } from '../io/hf-config.js';
import { Rng } from '../math/rng.js';
import { createModel } from '../models/auto.js';
import { randomInit } from '../models/layers.js';
import type { CausalLM } from '../models/types.js';
import { setupMethod, type MethodName, type MethodSetup } from '../train/methods.js';
import { hostBatch, type HostBatch } from '../train/run-data.js';
import { stepGradients } from '../train/trainer.js';
import { measureInterleaved } from './timing.js';

const D = 128;
const LAYERS = 4;
const HEADS = 4;
const CONTEXT = 128;
const BATCH = 16;
const RANK = 8;
const TOKENS_PER_STEP = BATCH * CONTEXT;
const TARGET_FULL_TOKENS_PER_SEC = 2000;
const TARGET_PRO_OVER_LORA = 1.25;
const BENCH_METHODS = ['full', 'lora', 'lora-pro'] as const satisfies readonly MethodName[];
type BenchMethod = (typeof BENCH_METHODS)[number];

interface Args {
  backend?: string;
  arch: 'gpt2' | 'llama';
  vocab: number;
  iters: number;
  warmup: number;
  json: boolean;
  profile: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { arch: 'gpt2', vocab: 1024, iters: 10, warmup: 3, json: false, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const int = () => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 1) throw new Error(`${flag} must be a positive integer`);
      return v;
    };
    if (flag === '--backend') args.backend = value();
    else if (flag === '--arch') {
      const v = value();
      if (v !== 'gpt2' && v !== 'llama') throw new Error(`--arch must be gpt2 or llama, got ${v}`);
      args.arch = v;
    } else if (flag === '--vocab') args.vocab = int();
    else if (flag === '--iters') args.iters = int();
    else if (flag === '--warmup') args.warmup = int();
    else if (flag === '--json') args.json = true;
    else if (flag === '--profile') args.profile = true;
    else throw new Error(`unknown argument "${flag}" (expected --backend, --arch, --vocab, --iters, --warmup, --profile, --json)`);
  }
  return args;
}

function decoderConfig(arch: Args['arch'], vocab: number) {
  if (arch === 'gpt2') return parseModelConfig({ model_type: 'gpt2', vocab_size: vocab, n_positions: CONTEXT, n_embd: D, n_layer: LAYERS, n_head: HEADS }, 'bench gpt2');
  return parseModelConfig(
    { model_type: 'llama', vocab_size: vocab, hidden_size: D, intermediate_size: 4 * D, num_hidden_layers: LAYERS, num_attention_heads: HEADS, num_key_value_heads: HEADS, max_position_embeddings: CONTEXT },
    'bench llama',
  );
}

/** A full-length batch of synthetic tokens, every position trained on. */
function syntheticBatch(vocab: number, seed: number): HostBatch {
  const rng = new Rng(seed);
  const items = Array.from({ length: BATCH }, (_, b) => {
    const ids = Array.from({ length: CONTEXT }, () => rng.int(vocab));
    return { ids, labels: ids, line: b + 1 };
  });
  return hostBatch(items, 0);
}

interface Case {
  model: CausalLM;
  setup: MethodSetup;
}

function makeCase(method: BenchMethod, args: Args): Case {
  const model = createModel(decoderConfig(args.arch, args.vocab), { task: 'causal-lm', init: randomInit(1, 0.02) });
  const setup = setupMethod(model, { method, rank: RANK, alpha: 16, targetModules: 'all-linear', loraDropout: 0, modulesToSave: [], seed: 0, lr: 1e-4, weightDecay: 0, clipNorm: 1 });
  return { model, setup };
}

/** One training step as the trainer takes it; resolves when the backend has finished it. */
async function step(c: Case, batch: HostBatch): Promise<void> {
  setTraining(c.model, true);
  const { loss, grads } = stepGradients(c.model, c.setup.params, [batch]);
  c.setup.optimizer.step(grads, 1e-4);
  tf.dispose([...grads.values()]);
  await loss.data();
  loss.dispose();
}

/** Kernel time per kernel name over one step (tf.profile), largest first. */
async function profileStep(c: Case, batch: HostBatch): Promise<{ kernel: string; ms: number; calls: number }[]> {
  const info = await tf.profile(() => step(c, batch) as unknown as tf.TensorContainer);
  const by = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const e = by.get(k.name) ?? { ms: 0, calls: 0 };
    by.set(k.name, { ms: e.ms + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0), calls: e.calls + 1 });
  }
  return [...by].map(([kernel, e]) => ({ kernel, ...e })).sort((a, b) => b.ms - a.ms);
}

async function backendDetail(backend: string): Promise<string> {
  if (backend !== 'wasm') return backend;
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  return `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'multi-threaded' : '1 thread'})`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const backend = await backendDetail(await useBackend(args.backend));
  const batch = syntheticBatch(args.vocab, 7);
  const cases = Object.fromEntries(BENCH_METHODS.map((m) => [m, makeCase(m, args)])) as Record<BenchMethod, Case>;
  const runs = Object.fromEntries(BENCH_METHODS.map((m) => [m, () => step(cases[m], batch)])) as Record<BenchMethod, () => Promise<void>>;
  const started = performance.now();
  const t = await measureInterleaved(runs, { warmup: args.warmup, iters: args.iters });
  const ms = t.medianMs;
  const rows = BENCH_METHODS.map((m) => ({ method: m, trainable: [...cases[m].setup.params.values()].reduce((n, v) => n + v.size, 0), msPerStep: ms[m], tokensPerSec: (TOKENS_PER_STEP * 1000) / ms[m] }));
  const proOverLora = ms['lora-pro'] / ms.lora;
  const profiles: Partial<Record<BenchMethod, Awaited<ReturnType<typeof profileStep>>>> = {};
  if (args.profile) for (const m of BENCH_METHODS) profiles[m] = await profileStep(cases[m], batch); // one at a time: tf.profile's state is global
  for (const c of Object.values<Case>(cases)) {
    c.setup.optimizer.dispose();
    c.model.dispose();
  }
  const date = new Date().toISOString();
  const cpu = `${os.cpus()[0]?.model?.trim() ?? 'unknown cpu'}, ${os.cpus().length} cores`;
  if (args.json) {
    console.log(JSON.stringify({ date, cpu, node: process.version, tfjs: tf.version_core, backend, arch: args.arch, vocab: args.vocab, iters: t.iters, rows, proOverLora, profiles: args.profile ? profiles : undefined }));
    return;
  }
  console.log(`Training step, ${args.arch}-style decoder d=${D}, ${LAYERS} layers, ${HEADS} heads, context ${CONTEXT}, batch ${BATCH}, vocab ${args.vocab}, LoRA rank ${RANK} on all linear layers`);
  console.log(`${date}, ${cpu}, node ${process.version}, TF.js ${tf.version_core}, backend ${backend}; median of ${t.iters} steps after ${args.warmup} warm-up rounds (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  console.log('');
  console.log(`${'method'.padEnd(10)}${'trainable'.padStart(11)}${'ms/step'.padStart(10)}${'tokens/s'.padStart(10)}`);
  for (const r of rows) console.log(`${r.method.padEnd(10)}${String(r.trainable).padStart(11)}${r.msPerStep.toFixed(1).padStart(10)}${Math.round(r.tokensPerSec).toString().padStart(10)}`);
  console.log('');
  const fullTps = rows[0].tokensPerSec;
  console.log(`full: ${Math.round(fullTps)} tokens/s (target ≥ ${TARGET_FULL_TOKENS_PER_SEC}): ${fullTps >= TARGET_FULL_TOKENS_PER_SEC ? 'met' : 'NOT met'}`);
  console.log(`lora-pro / lora step time: ${proOverLora.toFixed(2)} (target ≤ ${TARGET_PRO_OVER_LORA}): ${proOverLora <= TARGET_PRO_OVER_LORA ? 'met' : 'NOT met'}`);
  if (args.profile) {
    for (const [m, p] of Object.entries(profiles)) {
      console.log(`\n${m}: kernel time of one step (tf.profile), top 12`);
      for (const k of p.slice(0, 12)) console.log(`  ${k.kernel.padEnd(28)}${k.ms.toFixed(1).padStart(9)} ms ${String(k.calls).padStart(6)} calls`);
    }
  }
}

await main();
