// Frozen weights (./frozen.ts) and their native kernels (native/src/frozen.cc) against a reference
// written here: W dequantized by src/quant/ (or widened from its stored bytes) and multiplied in Float64.
// Every format, odd sizes (a partial NF4 block, rows off the tiles), both modes, every ISA the CPU has,
// 1 and 2 threads; the gather with an id out of range; the gradient saving nothing; the fallback's
// float32 tensor giving the same numbers; the byte count returning to where it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from './tf.js';
import { useBackend } from './backend.js';
import { FrozenWeight, frozenBytes, frozenCount } from './frozen.js';
import { configureNative, nativeStatus, type NativeInfo } from './native.js';
import { FROZEN_MATMUL } from './kernels/frozen.js';
import { gradsAndSaved, values } from './kernels/test-utils.js';
import { dequantizeInt8, quantizeInt8 } from '../quant/int8.js';
import { dequantizeNf4, quantizeNf4 } from '../quant/nf4.js';
import { dequantizeNf4Double, quantizeNf4Double } from '../quant/nf4-dq.js';
import { bf16ToFloat32, f16ToFloat32 } from '../quant/float16.js';
import type { FrozenFormat } from '../quant/formats.js';

const status = nativeStatus();
const skip = status.available ? false : `native engine not built: ${status.reason}`;
const ALL_ISAS: NativeInfo['isa'][] = ['portable', 'avx2', 'avx512'];
const ISAS = status.available ? ALL_ISAS.slice(0, ALL_ISAS.indexOf(status.info.isa) + 1) : [];
const FORMATS: FrozenFormat[] = ['f32', 'bf16', 'f16', 'int8', 'nf4', 'nf4-dq'];

/** A seeded [rows, cols] weight in `format` and the float32 values it stands for, derived without ./frozen.ts. */
function weightCase(format: FrozenFormat, rows: number, cols: number, seed: number): { make: () => FrozenWeight; dense: Float32Array } {
  const x = values(rows * cols, seed, 2);
  if (format === 'int8') return { make: () => FrozenWeight.fromFloat32(x, rows, cols, 'int8'), dense: dequantizeInt8(quantizeInt8(x, rows, cols)) };
  if (format === 'nf4') return { make: () => FrozenWeight.fromFloat32(x, rows, cols, 'nf4'), dense: dequantizeNf4(quantizeNf4(x, rows, cols)) };
  if (format === 'nf4-dq') return { make: () => FrozenWeight.fromFloat32(x, rows, cols, 'nf4-dq'), dense: dequantizeNf4Double(quantizeNf4Double(x, rows, cols)) };
  if (format === 'f32') return { make: () => FrozenWeight.fromStored({ dtype: 'F32', shape: [rows, cols], bytes: new Uint8Array(x.slice().buffer) }, 'none', 'w'), dense: x };
  // bf16: the top half of each float32; f16: random halves below 2 (subnormals included)
  const bits = new Uint16Array(rows * cols);
  const u32 = new Uint32Array(x.buffer);
  for (let i = 0; i < bits.length; i++) bits[i] = format === 'bf16' ? u32[i] >>> 16 : (u32[i] & 0x8000) | ((u32[i] >>> 3) % 16 << 10) | (u32[i] >>> 20 & 0x3ff);
  const dense = Float32Array.from(bits, format === 'bf16' ? bf16ToFloat32 : f16ToFloat32);
  return { make: () => FrozenWeight.fromStored({ dtype: format.toUpperCase(), shape: [rows, cols], bytes: new Uint8Array(bits.buffer) }, 'none', 'w'), dense };
}

/** mode 0: x [n, cols] · Wᵀ; mode 1: x [n, rows] · W, in Float64. */
function reference(w: Float32Array, rows: number, cols: number, x: Float32Array, n: number, mode: 0 | 1): Float64Array {
  const [k, width] = mode === 0 ? [cols, rows] : [rows, cols];
  const out = new Float64Array(n * width);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < width; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += x[i * k + p] * (mode === 0 ? w[j * cols + p] : w[p * cols + j]);
      out[i * width + j] = s;
    }
  return out;
}

function assertNear(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: size`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= rtol * Math.max(1, Math.abs(expected[i])))) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

const SIZES: [n: number, rows: number, cols: number][] = [
  [1, 1, 1],
  [5, 37, 70], // 2,590 values: the last NF4 block holds 30
  [33, 130, 67], // above the threading threshold; 130 rows off every tile width
];

test('frozenMatmul in every format and mode equals the dequantized weight multiplied in Float64, on every ISA and 1 or 2 threads', { skip }, async () => {
  await useBackend('native');
  const saved = nativeStatus();
  try {
    for (const isa of ISAS)
      for (const threads of [1, 2]) {
        configureNative({ isa, threads });
        for (const format of FORMATS)
          for (const [n, rows, cols] of SIZES) {
            const { make, dense } = weightCase(format, rows, cols, rows * 7 + cols);
            const w = make();
            assert.ok(w.native, 'stored outside the heap');
            for (const mode of [0, 1] as const) {
              const x = values(n * (mode === 0 ? cols : rows), n + mode);
              const y = tf.tidy(() => w.matmul(tf.tensor2d(x, [n, mode === 0 ? cols : rows]), mode));
              assert.deepEqual(y.shape, [n, mode === 0 ? rows : cols]);
              assertNear(y.dataSync(), reference(dense, rows, cols, x, n, mode), `${isa}, ${threads} threads, ${format} [${rows}, ${cols}], n ${n}, mode ${mode}`);
              y.dispose();
            }
            w.dispose();
          }
      }
  } finally {
    if (saved.available) configureNative({ isa: saved.info.isa, threads: saved.info.threads });
  }
});

test('frozenGather returns the rows of every format and refuses an id out of range, naming it', { skip }, async () => {
  await useBackend('native');
  for (const format of FORMATS) {
    const [rows, cols] = [11, 70];
    const { make, dense } = weightCase(format, rows, cols, 3);
    const w = make();
    const ids = [[3, 0], [10, 3]];
    const y = tf.tidy(() => w.gather(tf.tensor2d(ids, [2, 2], 'int32')));
    assert.deepEqual(y.shape, [2, 2, cols]);
    const expected = ids.flat().flatMap((id) => [...dense.subarray(id * cols, (id + 1) * cols)]);
    assertNear(y.dataSync(), expected, `gather ${format}`, 0);
    y.dispose();
    assert.throws(() => tf.tidy(() => w.gather(tf.tensor1d([1, 11], 'int32'))), /id 11 at position 1 is outside \[0, 11\)/);
    w.dispose();
  }
});

test('native nf4-dq decode equals src/quant\'s dequantize bit for bit, on odd shapes and every ISA', { skip }, async () => {
  // [3, 5]: one partial block; [37, 70]: 41 blocks, the last of 30; [129, 131]: 265 blocks, so two
  // absmax2 groups, the second of 9. The gather decodes whole rows, crossing blocks mid-row.
  await useBackend('native');
  const saved = nativeStatus();
  try {
    for (const isa of ISAS) {
      configureNative({ isa, threads: 1 });
      for (const [rows, cols] of [[3, 5], [37, 70], [129, 131]]) {
        const x = values(rows * cols, rows + cols, 3);
        const expected = dequantizeNf4Double(quantizeNf4Double(x, rows, cols));
        const w = FrozenWeight.fromFloat32(x, rows, cols, 'nf4-dq');
        const y = tf.tidy(() => w.gather(tf.range(0, rows, 1, 'int32')));
        const got = y.dataSync() as Float32Array;
        assert.deepEqual(new Uint32Array(got.buffer, got.byteOffset, got.length), new Uint32Array(expected.buffer), `${isa} [${rows}, ${cols}]`);
        assert.deepEqual(w.toFloat32(), expected);
        y.dispose();
        w.dispose();
      }
    }
  } finally {
    if (saved.available) configureNative({ isa: saved.info.isa, threads: saved.info.threads });
  }
});

test("the frozen product's gradient is the other mode, and its tape saves nothing", { skip }, async () => {
  await useBackend('native');
  const [n, rows, cols] = [4, 9, 13];
  const { make, dense } = weightCase('nf4', rows, cols, 5);
  const w = make();
  const x = tf.variable(tf.tensor2d(values(n * cols, 1), [n, cols]));
  const c = values(n * rows, 2);
  const { grads, saved } = gradsAndSaved(() => tf.sum(tf.mul(w.matmul(x, 0), tf.tensor2d(c, [n, rows]))), [x]);
  assertNear(grads[x.name], reference(dense, rows, cols, c, n, 1), 'dL/dx = c·W');
  assert.equal(saved.get(FROZEN_MATMUL), 0);
  x.dispose();
  w.dispose();
});

test('without the native engine a FrozenWeight holds float32 values on the backend: same numbers, nothing outside', async () => {
  await useBackend('cpu');
  const before = frozenBytes();
  const [n, rows, cols] = [3, 6, 70];
  for (const format of FORMATS) {
    const { make, dense } = weightCase(format, rows, cols, 9);
    const w = make();
    assert.equal(w.native, false);
    assert.equal(frozenBytes(), before);
    const x = values(n * cols, 4);
    const y = tf.tidy(() => w.matmul(tf.tensor2d(x, [n, cols]), 0));
    assertNear(y.dataSync(), reference(dense, rows, cols, x, n, 0), `cpu ${format}`);
    assert.deepEqual([...w.toFloat32()], [...dense]);
    y.dispose();
    w.dispose();
  }
});

test('frozenBytes counts each live weight once, bytesFor its format, and dispose returns it', { skip }, async () => {
  await useBackend('native');
  const before = { bytes: frozenBytes(), count: frozenCount() };
  const ws = FORMATS.map((f) => weightCase(f, 37, 70, 1).make());
  const expected = FORMATS.reduce((s, f) => s + FrozenWeight.bytesFor(f, 37, 70), 0);
  const n = 37 * 70;
  const nf4Dq = Math.ceil(n / 2) + Math.ceil(n / 64) + 4 * Math.ceil(n / 64 / 256) + 4; // codes, absmax codes, absmax2, offset
  assert.equal(expected, n * (4 + 2 + 2 + 1) + 37 * 4 + Math.ceil(n / 2) + 4 * Math.ceil(n / 64) + nf4Dq);
  assert.ok(nf4Dq < Math.ceil(n / 2) + 4 * Math.ceil(n / 64), 'nf4-dq takes less than nf4');
  assert.equal(frozenBytes() - before.bytes, expected);
  for (const [i, w] of ws.entries()) assert.deepEqual([...w.toFloat32()], [...weightCase(FORMATS[i], 37, 70, 1).dense]);
  for (const w of ws) w.dispose();
  assert.deepEqual({ bytes: frozenBytes(), count: frozenCount() }, before);
  assert.throws(() => ws[0].matmul(tf.zeros([1, 70]) as tf.Tensor2D, 0), /disposed/);
});
