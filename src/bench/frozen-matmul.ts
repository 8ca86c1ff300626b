// Median ms of the frozen-weight product (engine/frozen.ts: a bf16 checkpoint weight outside the wasm
// heap, native/src/frozen.cc and frozen_bf16.cc) at Llama-3.2-1B's MLP shape for one 128-token
// sequence, float32 GEMM vs bf16 dot products (configureNative({ matmul })), in interleaved rounds so
// load from other processes hits both alike; and how far the bf16 result lies from the float32 one.
// Run: `npx tsc -p . && node dist/bench/frozen-matmul.js [--iters N]`.
import os from 'node:os';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { FrozenWeight } from '../engine/frozen.js';
import { configureNative, nativeStatus, type MatmulPrecision } from '../engine/native.js';
import { measureInterleaved } from './timing.js';

const TOKENS = 128;
const HIDDEN = 2048; // Llama-3.2-1B hidden_size
const INTERMEDIATE = 8192; // its intermediate_size: gate_proj / up_proj are [8192, 2048]

/** A seeded [rows, cols] bf16 weight of uniform values in ±0.02 (an initialised linear layer's range). */
function bf16Weight(rows: number, cols: number, seed: number): FrozenWeight {
  const x = tf.tidy(() => tf.randomUniform([rows * cols], -0.02, 0.02, 'float32', seed).dataSync() as Float32Array);
  const u32 = new Uint32Array(x.buffer);
  const bits = new Uint16Array(rows * cols);
  for (let i = 0; i < bits.length; i++) bits[i] = u32[i] >>> 16;
  return FrozenWeight.fromStored({ dtype: 'BF16', shape: [rows, cols], bytes: new Uint8Array(bits.buffer) }, 'none', `bench.${rows}x${cols}`);
}

function product(w: FrozenWeight, x: tf.Tensor2D, mode: 0 | 1, precision: MatmulPrecision): () => Promise<void> {
  return async () => {
    configureNative({ matmul: precision });
    const y = w.matmul(x, mode);
    await y.data();
    y.dispose();
  };
}

/** max |bf16 − f32| / max |f32| over one product. */
function relativeGap(w: FrozenWeight, x: tf.Tensor2D, mode: 0 | 1): number {
  configureNative({ matmul: 'f32' });
  const a = w.matmul(x, mode);
  configureNative({ matmul: 'bf16' });
  const b = w.matmul(x, mode);
  const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).div(tf.max(tf.abs(a))).dataSync()[0]);
  tf.dispose([a, b]);
  return gap;
}

async function main(): Promise<void> {
  const itersArg = process.argv.indexOf('--iters');
  const iters = itersArg > 0 ? Number(process.argv[itersArg + 1]) : 5;
  if (!Number.isInteger(iters) || iters < 1) throw new Error(`--iters must be a positive integer, got ${process.argv[itersArg + 1]}`);
  const native = nativeStatus();
  if (!native.available) throw new Error(`the native engine is not loaded (${native.reason}); build it with node scripts/build-native.mjs`);
  await useBackend('native');
  const info = configureNative({ matmul: 'bf16' });
  if (info.matmul !== 'bf16') throw new Error(`no bf16 products here (CPU AVX512_BF16: ${info.bf16Dot}, kernels ${info.isa}); nothing to compare`);
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  console.log(`# frozen matmul bench, ${new Date().toISOString()}, ${os.cpus().length}x ${os.cpus()[0]?.model?.trim() ?? '?'}, node ${process.version}, load ${load}; native ${info.isa}, ${info.threads} thread(s); medians of ${iters}\n`);
  const w = bf16Weight(INTERMEDIATE, HIDDEN, 1);
  const cases: { name: string; mode: 0 | 1; x: tf.Tensor2D }[] = [
    { name: `y = x·Wᵀ  x [${TOKENS}, ${HIDDEN}], W [${INTERMEDIATE}, ${HIDDEN}] bf16`, mode: 0, x: tf.randomUniform([TOKENS, HIDDEN], -1, 1, 'float32', 2) as tf.Tensor2D },
    { name: `dx = dy·W dy [${TOKENS}, ${INTERMEDIATE}], W [${INTERMEDIATE}, ${HIDDEN}] bf16`, mode: 1, x: tf.randomUniform([TOKENS, INTERMEDIATE], -1, 1, 'float32', 3) as tf.Tensor2D },
  ];
  const gflops = (ms: number) => (2 * TOKENS * HIDDEN * INTERMEDIATE) / ms / 1e6;
  console.log(`${'product'.padEnd(56)}${'f32 ms'.padStart(9)}${'bf16 ms'.padStart(9)}${'speedup'.padStart(9)}${'f32 GF/s'.padStart(10)}${'bf16 GF/s'.padStart(10)}  max|bf16−f32|/max|f32|`);
  for (const c of cases) {
    const t = await measureInterleaved({ f32: product(w, c.x, c.mode, 'f32'), bf16: product(w, c.x, c.mode, 'bf16') }, { warmup: 1, iters });
    const { f32, bf16 } = t.medianMs;
    console.log(`${c.name.padEnd(56)}${f32.toFixed(1).padStart(9)}${bf16.toFixed(1).padStart(9)}${(f32 / bf16).toFixed(2).padStart(8)}x${gflops(f32).toFixed(0).padStart(10)}${gflops(bf16).toFixed(0).padStart(10)}  ${relativeGap(w, c.x, c.mode).toExponential(1)}`);
    c.x.dispose();
  }
  configureNative({ matmul: 'f32' });
  w.dispose();
}

await main();
