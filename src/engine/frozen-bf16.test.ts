// The opt-in bf16 products with frozen bf16 weights (native/src/frozen_bf16.cc, configureNative({ matmul })):
// equal to the product of the bf16-rounded activations and the weight in Float64, within float32
// summation error, in both modes, on shapes off every tile and block, at 1 and 2 threads; and the
// float32 path, bit for bit, wherever bf16 does not apply (the default, a narrower ISA, a CPU without
// AVX512_BF16, a weight stored in another format). Skipped where the native engine is not built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tf } from './tf.js';
import { useBackend } from './backend.js';
import { FrozenWeight } from './frozen.js';
import { configureNative, nativeStatus, type NativeInfo } from './native.js';
import { values } from './kernels/test-utils.js';

const status = nativeStatus();
const skip = status.available ? false : `native engine not built: ${status.reason}`;
const bf16Dot = status.available && status.info.bf16Dot === true && status.info.isa === 'avx512';
const skipDot = skip || (bf16Dot ? false : 'this CPU has no AVX512_BF16 (or runs narrower kernels): the bf16 path cannot run');

/** float32 → bf16 bits, rounding to nearest even (what vcvtne2ps2bf16 does for finite, normal values). */
function bf16Bits(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

function bf16Value(bits: number): number {
  return new Float32Array(new Uint32Array([bits << 16]).buffer)[0];
}

/** A seeded [rows, cols] bf16 weight (the top halves of seeded floats) and the values it holds. */
function bf16Weight(rows: number, cols: number, seed: number): { w: FrozenWeight; dense: Float64Array } {
  const x = values(rows * cols, seed, 2);
  const bits = Uint16Array.from(new Uint32Array(x.buffer), (u) => u >>> 16);
  const w = FrozenWeight.fromStored({ dtype: 'BF16', shape: [rows, cols], bytes: new Uint8Array(bits.buffer) }, 'none', 'w');
  return { w, dense: Float64Array.from(bits, bf16Value) };
}

/**
 * mode 0: x [n, cols] · Wᵀ; mode 1: x [n, rows] · W, in Float64 from x rounded to bf16, with each
 * element's Σ|x̂·w| for the error bound.
 */
function reference(w: Float64Array, rows: number, cols: number, x: Float32Array, n: number, mode: 0 | 1): { y: Float64Array; abs: Float64Array } {
  const [k, width] = mode === 0 ? [cols, rows] : [rows, cols];
  const xr = Float64Array.from(x, (v) => bf16Value(bf16Bits(v)));
  const y = new Float64Array(n * width), abs = new Float64Array(n * width);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < width; j++) {
      let s = 0, a = 0;
      for (let p = 0; p < k; p++) {
        const t = xr[i * k + p] * (mode === 0 ? w[j * cols + p] : w[p * cols + j]);
        s += t, a += Math.abs(t);
      }
      y[i * width + j] = s, abs[i * width + j] = a;
    }
  return { y, abs };
}

function product(w: FrozenWeight, x: Float32Array, n: number, k: number, mode: 0 | 1): Float32Array {
  return tf.tidy(() => w.matmul(tf.tensor2d(x, [n, k]), mode).dataSync() as Float32Array);
}

// [n, rows, cols]: n off the 8-row tile; k (cols in mode 0, rows in mode 1) odd, across the 512-value
// k blocks; widths off the 32-column tile and across the 512-column blocks; one above the threading threshold.
const SIZES: [n: number, rows: number, cols: number][] = [
  [1, 1, 1],
  [5, 37, 71],
  [9, 523, 300],
  [5, 40, 1031],
  [3, 600, 9],
  [33, 130, 67],
];

async function withNative<T>(body: () => T | Promise<T>): Promise<T> {
  await useBackend('native');
  const saved = nativeStatus() as { available: true; info: NativeInfo };
  try {
    return await body();
  } finally {
    configureNative({ isa: saved.info.isa, threads: saved.info.threads, matmul: 'f32' });
  }
}

test('bf16 products equal bf16-rounded x times W in Float64 within float32 summation error, both modes, odd shapes, 1 and 2 threads', { skip: skipDot }, async () => {
  await withNative(() => {
    for (const threads of [1, 2]) {
      assert.equal(configureNative({ threads, matmul: 'bf16' }).matmul, 'bf16');
      for (const [n, rows, cols] of SIZES) {
        const { w, dense } = bf16Weight(rows, cols, rows * 7 + cols);
        for (const mode of [0, 1] as const) {
          const k = mode === 0 ? cols : rows;
          const x = values(n * k, n + mode + 3);
          const got = product(w, x, n, k, mode);
          const { y, abs } = reference(dense, rows, cols, x, n, mode);
          // Each bf16·bf16 product is exact in float32; vdpbf16ps rounds twice per pair and each k block
          // adds once more, so |error| ≤ (k + 2)·2⁻²⁴·Σ|x̂·w| (the float32 summation bound).
          const what = `${threads} threads, [${rows}, ${cols}], n ${n}, mode ${mode}`;
          assert.equal(got.length, y.length, `${what}: size`);
          for (let i = 0; i < got.length; i++) {
            const bound = (k + 2) * 2 ** -24 * abs[i] + 1e-30;
            if (!(Math.abs(got[i] - y[i]) <= bound)) assert.fail(`${what}: element ${i} is ${got[i]}, expected ${y[i]} within ${bound}`);
          }
        }
        w.dispose();
      }
    }
  });
});

test('bf16 products round x: they differ from the float32 product, which the default still gives bit for bit', { skip: skipDot }, async () => {
  await withNative(() => {
    const [n, rows, cols] = [16, 64, 96];
    const { w } = bf16Weight(rows, cols, 5);
    const x = values(n * cols, 6);
    configureNative({ matmul: 'f32' });
    const f32 = product(w, x, n, cols, 0);
    configureNative({ matmul: 'bf16' });
    const bf16 = product(w, x, n, cols, 0);
    configureNative({ matmul: 'f32' });
    const again = product(w, x, n, cols, 0);
    w.dispose();
    assert.deepEqual(again, f32, 'back to f32, the same bits as before');
    const gap = Math.max(...f32.map((v, i) => Math.abs(v - bf16[i])));
    // x in ±4 rounded to 8 significant bits moves each term by up to 2⁻⁹ of itself
    assert.ok(gap > 1e-4, `bf16 and f32 products differ by only ${gap}: the bf16 path did not run`);
  });
});

test('without AVX-512 kernels, on other formats, or without AVX512_BF16, bf16 asked for runs the float32 path bit for bit', { skip }, async () => {
  await withNative(() => {
    const [n, rows, cols] = [16, 64, 96];
    const { w } = bf16Weight(rows, cols, 7);
    const x = values(n * cols, 8);
    const best = (status as { info: NativeInfo }).info.isa;
    const narrower = (['portable', 'avx2'] as const).filter((i) => i !== best && (i === 'portable' || best === 'avx512'));
    for (const isa of narrower) {
      const f32 = (configureNative({ isa, matmul: 'f32' }), product(w, x, n, cols, 0));
      const info = configureNative({ isa, matmul: 'bf16' });
      assert.equal(info.matmul, 'f32', `${isa}: bf16 needs the AVX-512 kernels`);
      assert.deepEqual(product(w, x, n, cols, 0), f32, `${isa}: float32 path`);
    }
    configureNative({ isa: best });
    const info = configureNative({ matmul: 'bf16' });
    assert.equal(info.matmul, info.bf16Dot && info.isa === 'avx512' ? 'bf16' : 'f32', 'bf16 only where the CPU has AVX512_BF16');
    const dense = Float32Array.from(values(rows * cols, 9, 2));
    const f32Weight = FrozenWeight.fromStored({ dtype: 'F32', shape: [rows, cols], bytes: new Uint8Array(dense.buffer) }, 'none', 'w32');
    const asked = product(f32Weight, x, n, cols, 0);
    configureNative({ matmul: 'f32' });
    assert.deepEqual(asked, product(f32Weight, x, n, cols, 0), 'an f32 weight keeps the float32 path');
    f32Weight.dispose();
    w.dispose();
    assert.throws(() => configureNative({ matmul: 'fp8' as never }), /matmul must be f32 or bf16, got "fp8"/);
  });
});

test('LORAPRO_MATMUL=bf16 asks for bf16 products at load; unset, they are float32', { skip }, () => {
  const native = JSON.stringify(fileURLToPath(new URL('./native.js', import.meta.url)));
  const script = `const { nativeStatus } = await import(${native}); const s = nativeStatus(); console.log(s.available ? s.info.matmul : 'none');`;
  const run = (env: Record<string, string>) => spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, LORAPRO_MATMUL: '', ...env } });
  const on = run({ LORAPRO_MATMUL: 'bf16' }), off = run({});
  assert.equal(on.status, 0, on.stderr);
  assert.equal(on.stdout.trim(), bf16Dot ? 'bf16' : 'f32');
  assert.equal(off.stdout.trim(), 'f32');
});
