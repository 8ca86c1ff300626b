// Median wall time of one optimiser step on one adapted layer: LoRA-Pro AdamW ('full' and
// 'efficient'), plain AdamW on the LoRA factors, and plain AdamW on the full m×n weight.
// The issue's target: at r = 8 a LoRA-Pro 'full' step costs at most 2× a full-weight AdamW step.
//
// Run: `npm run bench:optim`, or `node dist/bench/optim.js [--backend native|wasm|cpu] [--iters N]
// [--warmup N] [--json] [--profile]`. `--profile` adds the sub-step times of the 'full' step and of
// full-weight AdamW. On 2 cores the wasm run takes under a minute; cpu takes about 5 minutes (its
// m×n elementwise ops are far slower, so every layer there runs the minimum of timed steps).
import os from 'node:os';
import { describeEngine, useBackend } from '../engine/backend.js';
import { tf } from '../engine/tf.js';
import { Rng } from '../math/rng.js';
import { AdamW, adamDirection, adamHyper, applyUpdate } from '../optim/adamw.js';
import { LoraProAdamW } from '../optim/lora-pro-adamw.js';
import { adjustedDescent, factorInverses, loraProCoefficients, projectedGradient, readFactorGrams, readGrams, scaleGradientGrams } from '../optim/lora-pro.js';
import { disposeMap, prepareGradients, type LoraPair, type Optimizer } from '../optim/optimizer.js';
import { measureInterleaved, median } from './timing.js';

interface Layer {
  m: number; // out
  n: number; // in
  r: number;
}

const LAYERS: readonly Layer[] = [
  { m: 768, n: 768, r: 8 },
  { m: 768, n: 768, r: 64 },
  { m: 2048, n: 2048, r: 8 },
  { m: 2048, n: 2048, r: 64 },
];

const METHODS = ['loraProFull', 'loraProEfficient', 'loraAdamW', 'fullAdamW'] as const;
type Method = (typeof METHODS)[number];

const LR = 1e-4;
const WEIGHT_DECAY = 0.01;
const ALPHA = 16; // s = alpha / r, PEFT's usual lora_alpha
// A layer's timed rounds (one step of each method per round) are cut, to no fewer than MIN_ITERS,
// when they would take longer than this, so that the whole run stays within a few minutes on 2 cores.
const BUDGET_MS = 20000;
const MIN_ITERS = 5;

interface Args {
  backend?: 'native' | 'wasm' | 'cpu'; // default: the engine useBackend picks
  iters: number;
  warmup: number;
  json: boolean;
  profile: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { iters: 20, warmup: 3, json: false, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--json') args.json = true;
    else if (flag === '--profile') args.profile = true;
    else if (flag === '--backend') {
      const v = argv[++i];
      if (v !== 'native' && v !== 'wasm' && v !== 'cpu') throw new Error(`--backend must be native, wasm or cpu, got ${v}`);
      args.backend = v;
    } else if (flag === '--iters' || flag === '--warmup') {
      const v = Number(argv[++i]);
      if (!(Number.isInteger(v) && v >= (flag === '--iters' ? 1 : 0))) throw new Error(`${flag} must be a ${flag === '--iters' ? 'positive' : 'non-negative'} integer, got ${argv[i]}`);
      if (flag === '--iters') args.iters = v;
      else args.warmup = v;
    } else throw new Error(`unknown argument "${flag}" (expected --backend native|wasm|cpu, --iters N, --warmup N, --json, --profile)`);
  }
  return args;
}

const randn = (rng: Rng, shape: [number, number], std: number): tf.Tensor2D => tf.tensor2d(rng.normalArray(shape[0] * shape[1], std), shape, 'float32');
let variables = 0; // TF.js variable names must be unique across the run
const randVar = (rng: Rng, shape: [number, number], std: number, name: string): tf.Variable<tf.Rank.R2> => {
  const init = randn(rng, shape, std);
  const v = tf.variable(init, true, `bench/${name}/${variables++}`);
  init.dispose();
  return v;
};

/** One benchmark case: an optimiser, the gradients reused every step and the parameter to drain. */
interface Case {
  opt: Optimizer;
  grads: Map<string, tf.Tensor>;
  drainOn: tf.Tensor;
  owned: tf.Tensor[]; // variables created for the case
}

/**
 * A [r, n] ~ N(0, 1/n) as Kaiming-like init; B [m, r] small but non-zero (B = 0 is LoRA-Pro's
 * first-step special case, not its steady state). Gradients ~ N(0, 1e-2²), a typical magnitude.
 */
function makeCase(method: Method, { m, n, r }: Layer, seed: number): Case {
  const rng = new Rng(seed);
  if (method === 'fullAdamW') {
    const W = randVar(rng, [m, n], 1 / Math.sqrt(n), 'W');
    const grads = new Map<string, tf.Tensor>([['layer.weight', randn(rng, [m, n], 1e-2)]]);
    const opt = new AdamW(new Map([['layer.weight', W]]), { lr: LR, weightDecay: WEIGHT_DECAY });
    return { opt, grads, drainOn: W, owned: [W] };
  }
  const A = randVar(rng, [r, n], 1 / Math.sqrt(n), 'A');
  const B = randVar(rng, [m, r], 1e-2, 'B');
  const pair: LoraPair = { module: 'layer', aName: 'layer.lora_A.weight', bName: 'layer.lora_B.weight', A, B, scale: ALPHA / r };
  const grads = new Map<string, tf.Tensor>([
    [pair.aName, randn(rng, [r, n], 1e-2)],
    [pair.bName, randn(rng, [m, r], 1e-2)],
  ]);
  const opt =
    method === 'loraAdamW'
      ? new AdamW(new Map([[pair.aName, A], [pair.bName, B]]), { lr: LR, weightDecay: WEIGHT_DECAY })
      : new LoraProAdamW([pair], new Map(), { lr: LR, weightDecay: WEIGHT_DECAY, mode: method === 'loraProFull' ? 'full' : 'efficient' });
  return { opt, grads, drainOn: B, owned: [A, B] }; // every method here updates B last
}

/**
 * Waits until the backend has produced `t`. One element is read back, the same for every method:
 * reading the whole m×n weight would add a 16 MB copy to the full-weight baseline only.
 */
async function drain(t: tf.Tensor): Promise<void> {
  const one = tf.slice(t, new Array(t.rank).fill(0), new Array(t.rank).fill(1));
  await one.data();
  one.dispose();
}

interface Row extends Layer {
  ms: Record<Method, number>;
  iters: number; // timed steps per method
  fullRatio: number; // loraProFull / fullAdamW
  efficientRatio: number; // loraProEfficient / loraAdamW
  leakedTensors: number; // tf.memory().numTensors after the layer's cases are disposed, minus before
}

async function benchLayer(layer: Layer, args: Args, seed: number): Promise<Row> {
  const before = tf.memory().numTensors;
  const cases = Object.fromEntries(METHODS.map((k) => [k, makeCase(k, layer, seed)])) as Record<Method, Case>;
  const runs = Object.fromEntries(
    METHODS.map((k) => [
      k,
      async () => {
        await cases[k].opt.step(cases[k].grads);
        await drain(cases[k].drainOn);
      },
    ]),
  ) as Record<Method, () => Promise<void>>;
  const t = await measureInterleaved(runs, { warmup: args.warmup, iters: args.iters, budgetMs: BUDGET_MS, minIters: MIN_ITERS });
  for (const c of Object.values<Case>(cases)) {
    c.opt.dispose();
    disposeMap(c.grads);
    tf.dispose(c.owned);
  }
  const leakedTensors = tf.memory().numTensors - before;
  const ms = t.medianMs;
  return { ...layer, ms, iters: t.iters, fullRatio: ms.loraProFull / ms.fullAdamW, efficientRatio: ms.loraProEfficient / ms.loraAdamW, leakedTensors };
}

// ---------------------------------------------------------------------------------------------
// --profile: the 'full' step (LoraProAdamW.fullStep) and the full-weight AdamW step taken apart,
// each sub-step timed on its own up to a one-element read-back of what it produced.

type Group = 'pro' | 'alt' | 'w'; // summed as the LoRA-Pro step, not summed, summed as AdamW on W
const SUB_STEPS = [
  ['prepare', 'pro', 'global grad norm read-back + clones (prepareGradients)'],
  ['factors', 'pro', 'BᵀB, AAᵀ in Float64 (native: on the heap; else read back + JS) + 2 damped inverses'],
  ['grams1', 'pro', 'Bᵀ·gB, gA·Aᵀ in Float64 (native: on the heap; else read back + JS)'],
  ['coef1', 'pro', 'r×r Float64 algebra, X = 0'],
  ['gTilde', 'pro', 'g̃ = [B, gB]·(s·[[K1, −K3], [0, K2]]·[gA; A]) (tf, m×n, inner 2r: projectedGradient)'],
  ['adam', 'pro', 'Adam moments + direction on m×n (adamDirection)'],
  ['project', 'pro', 'Bᵀ·ĝ, ĝ·Aᵀ (tf.matMul TN and NT, m×n×r each; s goes into the r×r algebra)'],
  ['projectNN', 'alt', 'not in the step: the same products as NN matMuls on tf.transpose(B), tf.transpose(A)'],
  ['grams2', 'pro', 'Bᵀ·dB, dA·Aᵀ in Float64, as grams1'],
  ['coef2', 'pro', 'r×r Float64 algebra, Sylvester X (2 eigendecompositions)'],
  ['descent', 'pro', 'A, B ← the AdamW update along the adjusted gradients, one [2r]-inner product each (adjustedDescent)'],
  ['W.prepare', 'w', 'AdamW on W: norm of the m×n gradient (square, sum, read-back) + clone'],
  ['W.adam', 'w', 'AdamW on W: adamDirection on m×n'],
  ['W.update', 'w', 'AdamW on W: applyUpdate on m×n (decay, scale, subtract)'],
] as const;
type SubStep = (typeof SUB_STEPS)[number][0];

async function profileLayer(layer: Layer, iters: number, warmup: number, seed: number): Promise<Record<SubStep, number>> {
  const { m, n, r } = layer;
  const rng = new Rng(seed);
  const A = randVar(rng, [r, n], 1 / Math.sqrt(n), 'A');
  const B = randVar(rng, [m, r], 1e-2, 'B');
  const W = randVar(rng, [m, n], 1 / Math.sqrt(n), 'W');
  const [gAraw, gBraw, gWraw] = [randn(rng, [r, n], 1e-2), randn(rng, [m, r], 1e-2), randn(rng, [m, n], 1e-2)];
  const loraParams = new Map<string, tf.Variable>([['a', A], ['b', B]]);
  const fullParams = new Map<string, tf.Variable>([['w', W]]);
  const s = ALPHA / r;
  const h = adamHyper({ lr: LR, weightDecay: WEIGHT_DECAY }, 'bench');
  const zeros = tf.zeros([m, n]);
  const moments = [0, 1, 2, 3].map(() => tf.variable(zeros, false)); // LoRA-Pro m, v; AdamW-on-W m, v
  zeros.dispose();
  const samples = Object.fromEntries(SUB_STEPS.map(([k]) => [k, [] as number[]])) as Record<SubStep, number[]>;
  const timed = async <T>(name: SubStep, keep: boolean, f: () => T | Promise<T>, out: (x: T) => tf.Tensor | undefined): Promise<T> => {
    const start = performance.now();
    const x = await f();
    const t = out(x);
    if (t) await drain(t);
    if (keep) samples[name].push(performance.now() - start);
    return x;
  };
  for (let it = 0; it < warmup + iters; it++) {
    const keep = it >= warmup;
    const prep = await timed('prepare', keep, () => prepareGradients(new Map([['a', gAraw], ['b', gBraw]]), loraParams, { lr: LR }, 'bench'), (p) => p.grads?.get('a'));
    const [gA, gB] = [prep.grads!.get('a') as tf.Tensor2D, prep.grads!.get('b') as tf.Tensor2D];
    const factors = await timed('factors', keep, async () => {
      const f = await readFactorGrams(A, B);
      return { f, inverses: factorInverses(f, 1e-8) };
    }, () => undefined);
    const g1 = await timed('grams1', keep, () => readGrams(A, B, gA, gB, factors.f), () => undefined);
    const c1 = await timed('coef1', keep, () => loraProCoefficients(g1, s, 'zero', 1e-8, factors.inverses), () => undefined);
    const gTilde = await timed('gTilde', keep, () => projectedGradient({ A, B, gradA: gA, gradB: gB, scale: s }, c1), (x) => x); // [m, n]
    const dir = await timed('adam', keep, () => adamDirection(gTilde, moments[0], moments[1], it + 1, h), (x) => x); // [m, n]
    const [dA, dB] = await timed('project', keep, () => tf.tidy(() => [tf.matMul(B, dir, true, false), tf.matMul(dir, A, false, true)] as [tf.Tensor2D, tf.Tensor2D]), (x) => x[1]);
    const alt = await timed('projectNN', keep, () => tf.tidy(() => [tf.matMul(tf.transpose(B), dir), tf.matMul(dir, tf.transpose(A))]), (x) => x[1]);
    const g2 = await timed('grams2', keep, async () => scaleGradientGrams(await readGrams(A, B, dA, dB, factors.f), s), () => undefined);
    const c2 = await timed('coef2', keep, () => loraProCoefficients(g2, s, 'sylvester', 1e-8, factors.inverses), () => undefined);
    await timed('descent', keep, () => adjustedDescent({ A, B }, { dA, dB, gradScale: s }, c2, LR, 1 - LR * WEIGHT_DECAY), () => B);
    disposeMap(prep.grads);
    tf.dispose([gTilde, dir, dA, dB, ...alt]);

    const prepW = await timed('W.prepare', keep, () => prepareGradients(new Map([['w', gWraw]]), fullParams, { lr: LR }, 'bench'), (p) => p.grads?.get('w'));
    const dirW = await timed('W.adam', keep, () => adamDirection(prepW.grads!.get('w')!, moments[2], moments[3], it + 1, h), (x) => x);
    await timed('W.update', keep, () => applyUpdate(W, dirW, LR, WEIGHT_DECAY), () => W);
    disposeMap(prepW.grads);
    dirW.dispose();
  }
  tf.dispose([A, B, W, gAraw, gBraw, gWraw, ...moments]);
  return Object.fromEntries(SUB_STEPS.map(([k]) => [k, median(samples[k])])) as Record<SubStep, number>;
}

// ---------------------------------------------------------------------------------------------

const LABELS: Record<Method, string> = {
  loraProFull: 'LoRA-Pro full',
  loraProEfficient: 'LoRA-Pro efficient',
  loraAdamW: 'AdamW on A, B',
  fullAdamW: 'AdamW on W (m×n)',
};

/** "wasm (SIMD, 1 thread)" or "cpu": the wasm build in use changes the numbers a lot. */
async function backendDetail(backend: string): Promise<string> {
  if (backend !== 'wasm') return backend === 'native' ? describeEngine() : backend;
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  return `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'multi-threaded' : '1 thread'})`;
}

function header(date: string, backend: string): string {
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown cpu';
  return `Optimiser step on one layer, median ms: ${date}, ${cpu}, ${os.cpus().length} cores, node ${process.version}, TF.js ${tf.version_core}, backend ${backend}`;
}

function table(rows: readonly Row[]): string[] {
  const ms = (x: number) => x.toFixed(x < 10 ? 2 : 1);
  const lines = [
    `| layer m×n | r | ${METHODS.map((k) => LABELS[k]).join(' | ')} | full / AdamW(W) | efficient / AdamW(A,B) | timed steps |`,
    `|---|---:|${METHODS.map(() => '---:').join('|')}|---:|---:|---:|`,
  ];
  for (const row of rows) {
    lines.push(`| ${row.m}×${row.n} | ${row.r} | ${METHODS.map((k) => ms(row.ms[k])).join(' | ')} | ${row.fullRatio.toFixed(2)}× | ${row.efficientRatio.toFixed(2)}× | ${row.iters} |`);
  }
  return lines;
}

function profileTable(profiles: ReadonlyArray<{ layer: Layer; sub: Record<SubStep, number> }>): string[] {
  const lines = [
    `| sub-step, median ms | ${profiles.map(({ layer: l }) => `${l.m}×${l.n} r=${l.r}`).join(' | ')} | what |`,
    `|---|${profiles.map(() => '---:').join('|')}|---|`,
  ];
  const sum = (group: Group) => profiles.map((p) => SUB_STEPS.reduce((acc, [k, g]) => acc + (g === group ? p.sub[k] : 0), 0).toFixed(1)).join(' | ');
  for (const [k, , what] of SUB_STEPS) {
    lines.push(`| ${k} | ${profiles.map((p) => p.sub[k].toFixed(2)).join(' | ')} | ${what} |`);
    if (k === 'descent') lines.push(`| **LoRA-Pro full, sum** | ${sum('pro')} | |`);
    if (k === 'W.update') lines.push(`| **AdamW on W, sum** | ${sum('w')} | |`);
  }
  return lines;
}

interface Report {
  date: string;
  backend: string;
  args: Args;
  rows: Row[];
  profiles: Array<{ layer: Layer; sub: Record<SubStep, number> }>;
  seconds: number;
}

function printReport({ date, backend, args, rows, profiles, seconds }: Report): void {
  console.log(header(date, backend));
  console.log('');
  for (const line of table(rows)) console.log(line);
  console.log('');
  console.log(
    `Gradients prepared beforehand and reused; each step is drained with a one-element read-back. ${args.warmup} warm-up rounds, ` +
      `then the median of the timed steps (${args.iters} wanted per layer, fewer where a layer would exceed ${BUDGET_MS / 1000} s, never below ` +
      `${Math.min(MIN_ITERS, args.iters)}); the four methods run interleaved, one step each per round. s = ${ALPHA}/r, weight decay ` +
      `${WEIGHT_DECAY}, B non-zero (steady state, not the B = 0 first step). Total ${seconds.toFixed(0)} s.`,
  );
  const target = rows.filter((r) => r.r === 8);
  const met = target.every((r) => r.fullRatio <= 2);
  console.log(`Target (r = 8: LoRA-Pro full ≤ 2× AdamW on W): ${met ? 'met' : 'missed'} (${target.map((r) => `${r.m}×${r.n}: ${r.fullRatio.toFixed(2)}×`).join(', ')}).`);
  const leaks = rows.filter((r) => r.leakedTensors !== 0);
  if (leaks.length > 0) console.log(`WARNING: tf.memory().numTensors grew after a layer's optimisers, gradients and parameters were disposed: ${leaks.map((r) => `${r.m}×${r.n} r=${r.r}: +${r.leakedTensors}`).join(', ')}.`);
  if (profiles.length > 0) {
    console.log('');
    for (const line of profileTable(profiles)) console.log(line);
  }
  if (args.json) {
    const cpu = os.cpus()[0]?.model?.trim() ?? null;
    const meta = { date, cpu, cores: os.cpus().length, node: process.version, tfjs: tf.version_core, backend, warmup: args.warmup, itersWanted: args.iters, budgetMs: BUDGET_MS };
    console.log(JSON.stringify({ ...meta, rows, targetMet: met, ...(profiles.length > 0 ? { profile: profiles } : {}) }));
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const backend = await backendDetail(await useBackend(args.backend));
  const date = new Date().toISOString();
  const started = performance.now();
  const rows: Row[] = [];
  for (const [i, layer] of LAYERS.entries()) rows.push(await benchLayer(layer, args, 1000 + i));
  const profiles: Report['profiles'] = [];
  if (args.profile) {
    for (const [i, layer] of LAYERS.entries()) profiles.push({ layer, sub: await profileLayer(layer, Math.min(args.iters, 5), 2, 2000 + i) });
  }
  printReport({ date, backend, args, rows, profiles, seconds: (performance.now() - started) / 1000 });
}

try {
  await main();
} catch (err) {
  console.error(`bench:optim: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
