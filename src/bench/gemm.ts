// The matrix products of one training step of the bench:train decoder (d = 128, MLP 512, vocab 1024,
// batch 16 x context 128, 4 heads): GFLOP/s of the wasm BatchMatMul with the project's SIMD kernel
// (src/engine/kernels/simd-gemm.ts) against the same kernel without it (XNNPACK, which packs its right
// operand on every call), then the SIMD kernel alone with B unpacked and with other block sizes, to show
// where its constants come from. With the native engine built, its C++ GEMM (native/src/gemm.cc) is a third
// column, at its thread count (LORAPRO_THREADS). Variants are timed in interleaved rounds; medians.
// Run: `npx tsc -p . && node dist/bench/gemm.js [--iters N]`.
import os from 'node:os';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { useSimdMatMul } from '../engine/kernels/batch-mat-mul.js';
import { nativeStatus, useNativeKernels } from '../engine/native.js';
import { BLOCK_DEPTH, BLOCK_ROWS, gemm, runGemm, simdGemm, type GemmArgs, type SimdGemm } from '../engine/kernels/simd-gemm.js';
import { asWasmBackend, heapMemory, wasmData } from '../engine/kernels/wasm-backend.js';
import { measureInterleaved } from './timing.js';

interface Shape {
  why: string;
  m: number;
  k: number;
  n: number;
  transposeA: boolean; // A stored [k, m]
  transposeB: boolean; // B stored [n, k]
  batch: number;
}

const SHAPES: Shape[] = [
  { why: 'MLP up, x Wᵀ', m: 2048, k: 128, n: 512, transposeA: false, transposeB: true, batch: 1 },
  { why: 'MLP down, dx = dy W', m: 2048, k: 128, n: 512, transposeA: false, transposeB: false, batch: 1 },
  { why: 'MLP up, dW = dyᵀ x', m: 512, k: 2048, n: 128, transposeA: true, transposeB: false, batch: 1 },
  { why: 'MLP down, dW = dyᵀ x', m: 128, k: 2048, n: 512, transposeA: true, transposeB: false, batch: 1 },
  { why: 'qkv, dW = dyᵀ x', m: 384, k: 2048, n: 128, transposeA: true, transposeB: false, batch: 1 },
  { why: 'lm head, x Eᵀ', m: 2048, k: 128, n: 1024, transposeA: false, transposeB: true, batch: 1 },
  { why: 'lm head, dE = dlogitsᵀ x', m: 1024, k: 2048, n: 128, transposeA: true, transposeB: false, batch: 1 },
  { why: 'attention, q kᵀ', m: 128, k: 32, n: 128, transposeA: false, transposeB: true, batch: 64 },
  { why: 'attention, att v', m: 128, k: 128, n: 32, transposeA: false, transposeB: false, batch: 64 },
  { why: 'attention, dv = attᵀ dy', m: 128, k: 128, n: 32, transposeA: true, transposeB: false, batch: 64 },
];

const label = (s: Shape) => `${s.batch > 1 ? `${s.batch}x ` : ''}${s.transposeA ? 'T' : 'N'}${s.transposeB ? 'T' : 'N'} ${s.m}x${s.k}x${s.n} ${s.why}`;
const gflops = (s: Shape, ms: number) => (2 * s.batch * s.m * s.k * s.n) / ms / 1e6;

function stored(s: Shape, seed: number): [tf.Tensor, tf.Tensor] {
  const lead = s.batch > 1 ? [s.batch] : [];
  const a = tf.randomUniform([...lead, ...(s.transposeA ? [s.k, s.m] : [s.m, s.k])], -1, 1, 'float32', seed);
  const b = tf.randomUniform([...lead, ...(s.transposeB ? [s.n, s.k] : [s.k, s.n])], -1, 1, 'float32', seed + 1);
  return [a, b];
}

/** tf.matMul with the SIMD kernel on or off, and on the native engine where it is built. */
async function kernelVsXnnpack(iters: number): Promise<void> {
  const native = nativeStatus();
  const nativeHead = native.available ? `${'native'.padStart(9)}${'/SIMD'.padStart(8)}` : '';
  console.log(`${'GFLOP/s of tf.matMul (wasm)'.padEnd(52)}${'XNNPACK'.padStart(9)}${'SIMD'.padStart(9)}${'ratio'.padStart(8)}${nativeHead}`);
  for (const [i, s] of SHAPES.entries()) {
    const [a, b] = stored(s, 10 * i);
    const call = (mode: 'xnnpack' | 'simd' | 'native') => async () => {
      useSimdMatMul(mode !== 'xnnpack');
      useNativeKernels(mode === 'native');
      // wasm kernels run synchronously, so the product is done on return: reading it back (4 MB for
      // the MLP products) would time the copy, not the kernel
      tf.matMul(a, b, s.transposeA, s.transposeB).dispose();
    };
    const runs: Record<string, () => Promise<void>> = { xnnpack: call('xnnpack'), simd: call('simd') };
    if (native.available) runs.native = call('native');
    const t = await measureInterleaved(runs, { warmup: 2, iters });
    const [x, v] = [gflops(s, t.medianMs.xnnpack), gflops(s, t.medianMs.simd)];
    const n = native.available ? gflops(s, t.medianMs.native) : 0;
    const nativeCols = native.available ? `${n.toFixed(1).padStart(9)}${`${(n / v).toFixed(2)}x`.padStart(8)}` : '';
    console.log(`${label(s).padEnd(52)}${x.toFixed(1).padStart(9)}${v.toFixed(1).padStart(9)}${`${(v / x).toFixed(2)}x`.padStart(8)}${nativeCols}`);
    tf.dispose([a, b]);
  }
  useSimdMatMul(true);
  useNativeKernels(false);
}

/** The kernel alone on one matrix of each untransposed-B shape: B as stored vs packed, block sizes. */
async function blockChoices(kernels: SimdGemm, iters: number): Promise<void> {
  const backend = asWasmBackend(tf.backend());
  const blocks: [number, number][] = [[64, 128], [BLOCK_ROWS, BLOCK_DEPTH], [256, 256], [64, 512]];
  const names = ['unpacked 64/128', ...blocks.map(([r, d]) => `${r}/${d}${r === BLOCK_ROWS && d === BLOCK_DEPTH ? '*' : ''}`)];
  console.log(`\n${'GFLOP/s of the SIMD kernel, rows/depth per block'.padEnd(52)}${names.map((n) => n.padStart(17)).join('')}`);
  for (const [i, s] of SHAPES.filter((x) => x.batch === 1 && !x.transposeB).entries()) {
    const [a, b] = stored(s, 100 + 10 * i);
    const c = tf.zeros([s.m, s.n]);
    const scratch = tf.zeros([512 * s.n]);
    const at = (t: tf.Tensor) => wasmData(backend, t).memoryOffset;
    const g: GemmArgs = {
      a: at(a), b: at(b), c: at(c), m: s.m, n: s.n, k: s.k,
      ai: s.transposeA ? 4 : 4 * s.k, ak: s.transposeA ? 4 * s.m : 4, bk: 4 * s.n, bj: 4, cs: 4 * s.n, accumulate: false,
    };
    const runs: Record<string, () => Promise<void>> = {
      [names[0]]: async () => {
        for (let i0 = 0; i0 < s.m; i0 += 64) {
          for (let t0 = 0; t0 < s.k; t0 += 128) {
            runGemm(kernels, { ...g, a: g.a + i0 * g.ai + t0 * g.ak, b: g.b + t0 * g.bk, c: g.c + i0 * g.cs, m: Math.min(64, s.m - i0), k: Math.min(128, s.k - t0), accumulate: t0 > 0 });
          }
        }
      },
    };
    blocks.forEach(([rows, depth], j) => {
      runs[names[j + 1]] = async () => gemm(kernels, g, at(scratch), rows, depth);
    });
    const t = await measureInterleaved(runs, { warmup: 2, iters });
    console.log(`${label(s).padEnd(52)}${names.map((n) => gflops(s, t.medianMs[n]).toFixed(1).padStart(17)).join('')}`);
    tf.dispose([a, b, c, scratch]);
  }
}

async function main(): Promise<void> {
  const itersArg = process.argv.indexOf('--iters');
  const iters = itersArg > 0 ? Number(process.argv[itersArg + 1]) : 9;
  if (!Number.isInteger(iters) || iters < 1) throw new Error(`--iters must be a positive integer, got ${process.argv[itersArg + 1]}`);
  await useBackend('wasm');
  const memory = heapMemory(asWasmBackend(tf.backend()));
  const kernels = memory === null ? null : simdGemm(memory);
  if (kernels === null) throw new Error('this WebAssembly has no SIMD (or the backend hides its heap): nothing to compare');
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  const native = nativeStatus();
  const engine = native.available ? `native engine ${native.info.isa}, ${native.info.threads} thread(s)` : `no native engine (${native.reason})`;
  console.log(`# gemm bench, ${new Date().toISOString()}, ${os.cpus().length}x ${os.cpus()[0]?.model?.trim() ?? '?'}, node ${process.version}, load ${load}; ${engine}; medians of ${iters}\n`);
  await kernelVsXnnpack(iters);
  await blockChoices(kernels, iters);
  console.log('\n* the blocks BatchMatMul uses. Packed: each block of k rows of B copied as strips of 8 columns first.');
}

await main();
