// Median ms of tf.matMul (and UnsortedSegmentSum, the embedding gradient's kernel) for the shapes a d=128,
// 4-head, 4-layer decoder sees at batch 16 x context 128: the wasm backend with its stock kernels and with
// the project's (src/engine/kernels), timed in interleaved rounds so load from other processes hits both
// alike, and the cpu backend for reference.
// Run: `npx tsc -p . && node dist/bench/matmul.js [--iters N]`.
import os from 'node:os';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { registerWasmKernels, restoreStockWasmKernels } from '../engine/kernels/register.js';
import { measureInterleaved } from './timing.js';

interface Case {
  name: string;
  run: () => tf.Tensor; // one call of the op under test
  inputs: tf.Tensor[];
}

const BUDGET_MS = 4000; // per case and backend; never fewer than MIN_ITERS rounds
const MIN_ITERS = 3;

function matMulCase(a: number[], b: number[], transposeA: boolean, transposeB: boolean, why: string, seed: number): Case {
  const x = tf.randomUniform(a, -1, 1, 'float32', seed);
  const y = tf.randomUniform(b, -1, 1, 'float32', seed + 1);
  const t = `${transposeA ? 'T' : 'N'}${transposeB ? 'T' : 'N'}`;
  return { name: `${t} [${a}]x[${b}] ${why}`, run: () => tf.matMul(x, y, transposeA, transposeB), inputs: [x, y] };
}

function segmentSumCase(rows: number, width: number, numSegments: number, seed: number): Case {
  const values = tf.randomUniform([rows, width], -1, 1, 'float32', seed);
  const ids = tf.randomUniform([rows], 0, numSegments, 'int32', seed + 1) as tf.Tensor1D;
  return {
    name: `UnsortedSegmentSum [${rows},${width}] -> ${numSegments} (embedding grad)`,
    run: () => tf.unsortedSegmentSum(values, ids, numSegments),
    inputs: [values, ids],
  };
}

// B=16, T=128, d=128, 4 heads of 32, MLP 512: rows = B*T = 2048; attention batch = B*heads = 64.
function cases(): Case[] {
  return [
    matMulCase([2048, 128], [128, 384], false, false, 'x W', 1),
    matMulCase([2048, 128], [384, 128], false, true, 'qkv = x Wᵀ (Linear)', 3),
    matMulCase([2048, 384], [384, 128], false, false, 'dx = dy W', 5),
    matMulCase([2048, 384], [2048, 128], true, false, 'dW = dyᵀ x (qkv)', 7),
    matMulCase([2048, 128], [2048, 512], true, false, 'dW = dyᵀ x (MLP down)', 35),
    matMulCase([128, 2048], [384, 128], true, true, 'both stored transposed', 9),
    matMulCase([2048, 128], [512, 128], false, true, 'MLP up', 11),
    matMulCase([2048, 512], [128, 512], false, true, 'MLP down', 13),
    matMulCase([16, 128, 128], [384, 128], false, true, 'rank-3 Linear (broadcast W)', 15),
    matMulCase([16, 128], [512, 128], false, true, 'Linear while decoding, 16 rows', 33),
    matMulCase([64, 128, 32], [64, 128, 32], false, true, 'att = q kᵀ', 17),
    matMulCase([64, 128, 128], [64, 128, 32], false, false, 'y = att v', 19),
    matMulCase([64, 128, 32], [64, 32, 128], false, false, 'NN batched', 21),
    matMulCase([64, 128, 128], [64, 128, 32], true, false, 'dv = attᵀ dy', 23),
    matMulCase([64, 32, 128], [64, 128, 32], true, true, 'TT batched', 25),
    matMulCase([512, 16, 16], [512, 16, 16], false, false, 'tiny batched (scalar-loop path)', 27),
    matMulCase([128, 32, 32], [128, 32, 32], false, false, 'small batched (XNNPACK loop)', 29),
    // cpu's kernel is O(numSegments * rows) (a masked sum per segment), so the vocab is kept small here.
    segmentSumCase(2048, 128, 64, 31),
  ];
}

/** One drained call; the kernels installed for wasm are chosen first (a registry swap, microseconds). */
function call(c: Case, install?: () => void): () => Promise<void> {
  return async () => {
    install?.();
    const y = c.run();
    await y.data();
    y.dispose();
  };
}

/** Whether the op runs at all with these kernels (the stock wasm backend has no UnsortedSegmentSum). */
async function runs(c: Case, install: () => void): Promise<boolean> {
  try {
    await call(c, install)();
    return true;
  } catch {
    return false;
  }
}

async function timeCpu(list: Case[], iters: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const c of list) {
    const t = await measureInterleaved({ cpu: call(c) }, { warmup: 1, iters, budgetMs: BUDGET_MS, minIters: MIN_ITERS });
    out.set(c.name, t.medianMs.cpu);
  }
  return out;
}

async function timeWasm(list: Case[], iters: number): Promise<Map<string, { stock: number; lorapro: number }>> {
  const out = new Map<string, { stock: number; lorapro: number }>();
  const o = { warmup: 1, iters, budgetMs: BUDGET_MS, minIters: MIN_ITERS };
  for (const c of list) {
    if (await runs(c, restoreStockWasmKernels)) {
      const t = await measureInterleaved({ stock: call(c, restoreStockWasmKernels), lorapro: call(c, registerWasmKernels) }, o);
      out.set(c.name, t.medianMs);
    } else {
      const t = await measureInterleaved({ lorapro: call(c, registerWasmKernels) }, o);
      out.set(c.name, { stock: Number.NaN, lorapro: t.medianMs.lorapro });
    }
  }
  registerWasmKernels();
  return out;
}

async function main(): Promise<void> {
  const itersArg = process.argv.indexOf('--iters');
  const iters = itersArg > 0 ? Number(process.argv[itersArg + 1]) : 9;
  if (!Number.isInteger(iters) || iters < 1) throw new Error(`--iters must be a positive integer, got ${process.argv[itersArg + 1]}`);
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  console.log(`# matmul bench, ${new Date().toISOString()}, ${os.cpus().length}x ${os.cpus()[0]?.model ?? '?'}, node ${process.version}, load ${load}`);
  const onBackend = async <T>(name: 'cpu' | 'wasm', time: (list: Case[]) => Promise<T>): Promise<T> => {
    await useBackend(name);
    const list = cases(); // inputs live on the backend that times them
    try {
      return await time(list);
    } finally {
      for (const c of list) tf.dispose(c.inputs);
    }
  };
  const cpu = await onBackend('cpu', (list) => timeCpu(list, iters));
  const wasm = await onBackend('wasm', (list) => timeWasm(list, iters));
  const fmt = (ms: number) => (Number.isNaN(ms) ? 'fails' : ms.toFixed(2)).padStart(10);
  console.log(`${'median ms'.padEnd(58)}${'cpu'.padStart(10)}${'wasm stock'.padStart(12)}${'lorapro'.padStart(10)}${'speedup'.padStart(9)}`);
  for (const [name, w] of wasm) {
    const speedup = Number.isNaN(w.stock) ? '' : `${(w.stock / w.lorapro).toFixed(1)}x`;
    console.log(`${name.padEnd(58)}${fmt(cpu.get(name) ?? Number.NaN)}${fmt(w.stock).padStart(12)}${fmt(w.lorapro)}${speedup.padStart(9)}`);
  }
  console.log('lorapro = wasm with src/engine/kernels; speedup = wasm stock / lorapro. Inputs are reused across calls:');
  console.log('in the NN rows stock serves the right operand from XNNPACK\'s packing cached on its id; lorapro repacks it');
  console.log('(no second copy of every frozen weight on the heap), as both do for a new operand, e.g. each training step.');
}

await main();
