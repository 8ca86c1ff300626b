// Training throughput of full fine-tuning, LoRA and LoRA-Pro on a randomly initialised decoder of
// d = 128, 4 layers, 4 heads, context 128, batch 16, with synthetic tokens: one training step is the
// trainer's (./train-case.ts), drained by reading the loss back. Warm-up rounds, then the median step
// time, the three methods timed in interleaved rounds so load from other processes hits them alike.
// `--engines` times the native engine against the wasm kernels in the same interleaved rounds (the
// models live on the wasm backend either way; only the kernels switch).
// Run: `npx tsc -p . && node dist/bench/train.js [--backend native|wasm|cpu | --engines] [--arch gpt2|llama] [--iters N] [--profile] [--json]`.
import os from 'node:os';
import { tf } from '../engine/tf.js';
import { describeEngine, useBackend } from '../engine/backend.js';
import { nativeStatus, useNativeKernels } from '../engine/native.js';
import type { MethodName } from '../train/methods.js';
import { measureInterleaved } from './timing.js';
import { benchShape, disposeCase, makeCase, step, trainableCount, type BenchShape, type TrainCase } from './train-case.js';

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
  engines: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { arch: 'gpt2', vocab: 1024, iters: 10, warmup: 3, json: false, profile: false, engines: false };
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
    else if (flag === '--engines') args.engines = true;
    else throw new Error(`unknown argument "${flag}" (expected --backend, --engines, --arch, --vocab, --iters, --warmup, --profile, --json)`);
  }
  return args;
}

/** Kernel time per kernel name over one step (tf.profile), largest first. */
async function profileStep(c: TrainCase): Promise<{ kernel: string; ms: number; calls: number }[]> {
  const info = await tf.profile(() => step(c) as unknown as tf.TensorContainer);
  const by = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const e = by.get(k.name) ?? { ms: 0, calls: 0 };
    by.set(k.name, { ms: e.ms + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0), calls: e.calls + 1 });
  }
  return [...by].map(([kernel, e]) => ({ kernel, ...e })).sort((a, b) => b.ms - a.ms);
}

/** --engines: every method on the native engine and on the wasm kernels, interleaved in the same rounds. */
async function compareEngines(args: Args): Promise<void> {
  const status = nativeStatus();
  if (!status.available) throw new Error(`--engines needs the native engine: ${status.reason}`);
  await useBackend('native');
  const shape = benchShape(args.arch, 'S', args.vocab);
  const tokens = shape.batch * shape.context;
  const cases = Object.fromEntries(BENCH_METHODS.map((m) => [m, makeCase(m, shape)])) as Record<BenchMethod, TrainCase>;
  const runs: Record<string, () => Promise<void>> = {};
  for (const m of BENCH_METHODS) {
    for (const native of [true, false]) {
      runs[`${m} ${native ? 'native' : 'wasm'}`] = async () => {
        useNativeKernels(native);
        await step(cases[m]);
      };
    }
  }
  const started = performance.now();
  const t = await measureInterleaved(runs, { warmup: args.warmup, iters: args.iters });
  useNativeKernels(true);
  for (const c of Object.values<TrainCase>(cases)) disposeCase(c);
  console.log(`Training step, ${args.arch}-style decoder d=${shape.d}, ${shape.layers} layers, context ${shape.context}, batch ${shape.batch}, vocab ${args.vocab}, LoRA rank ${shape.rank} on all linear layers`);
  console.log(`${new Date().toISOString()}, ${os.cpus()[0]?.model?.trim() ?? 'unknown cpu'}, ${os.cpus().length} cores, node ${process.version}, TF.js ${tf.version_core}; native engine ${status.info.isa}, ${status.info.threads} threads; median of ${t.iters} interleaved rounds after ${args.warmup} warm-up (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  console.log('| method | native tokens/s | wasm tokens/s | native / wasm |\n| --- | ---: | ---: | ---: |');
  for (const m of BENCH_METHODS) {
    const [native, wasm] = [t.medianMs[`${m} native`], t.medianMs[`${m} wasm`]];
    console.log(`| ${m} | ${Math.round((tokens * 1000) / native)} | ${Math.round((tokens * 1000) / wasm)} | ${(wasm / native).toFixed(2)}× |`);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.engines) return compareEngines(args);
  await useBackend(args.backend);
  const backend = describeEngine();
  const shape: BenchShape = benchShape(args.arch, 'S', args.vocab);
  const { d: D, layers: LAYERS, heads: HEADS, context: CONTEXT, batch: BATCH, rank: RANK } = shape;
  const TOKENS_PER_STEP = BATCH * CONTEXT;
  const cases = Object.fromEntries(BENCH_METHODS.map((m) => [m, makeCase(m, shape)])) as Record<BenchMethod, TrainCase>;
  const runs = Object.fromEntries(BENCH_METHODS.map((m) => [m, async () => void (await step(cases[m]))])) as Record<BenchMethod, () => Promise<void>>;
  const started = performance.now();
  const t = await measureInterleaved(runs, { warmup: args.warmup, iters: args.iters });
  const ms = t.medianMs;
  const rows = BENCH_METHODS.map((m) => ({ method: m, trainable: trainableCount(cases[m]), msPerStep: ms[m], tokensPerSec: (TOKENS_PER_STEP * 1000) / ms[m] }));
  const proOverLora = ms['lora-pro'] / ms.lora;
  const profiles: Partial<Record<BenchMethod, Awaited<ReturnType<typeof profileStep>>>> = {};
  if (args.profile) for (const m of BENCH_METHODS) profiles[m] = await profileStep(cases[m]); // one at a time: tf.profile's state is global
  for (const c of Object.values<TrainCase>(cases)) disposeCase(c);
  const date = new Date().toISOString();
  const cpu = `${os.cpus()[0]?.model?.trim() ?? 'unknown cpu'}, ${os.cpus().length} cores`;
  if (args.json) {
    console.log(JSON.stringify({ date, cpu, node: process.version, tfjs: tf.version_core, backend, arch: args.arch, vocab: args.vocab, iters: t.iters, rows, proOverLora, profiles: args.profile ? profiles : undefined }));
    return;
  }
  console.log(`Training step, ${args.arch}-style decoder d=${D}, ${LAYERS} layers, ${HEADS} heads, context ${CONTEXT}, batch ${BATCH}, vocab ${args.vocab}, LoRA rank ${RANK} on all linear layers`);
  console.log(`${date}, ${cpu}, node ${process.version}, TF.js ${tf.version_core}, engine ${backend}; median of ${t.iters} steps after ${args.warmup} warm-up rounds (${((performance.now() - started) / 1000).toFixed(0)} s)`);
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
