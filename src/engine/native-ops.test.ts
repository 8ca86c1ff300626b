// The native engine's softmax and softmax-gradient kernels (native/src/ops.cc, ./kernels/native-ops.ts)
// against independent routes: a Float64 softmax written here and the cpu backend's taped softmax
// gradient, gelu_new against its tanh formula in Float64, and SwiGLU against the cpu backend's silu(g)·u and its taped gradient (AdamW's kernel:
// optim/native-adam.test.ts), LoRA-Pro's Gram against a Float64 sum; odd sizes (1, 7, 129: off the 8-float vectors), a bias
// broadcast per batch row or over all, every ISA the CPU has, 1 and 2 threads; bad calls named.
// Skipped where the native engine was not built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tf } from './tf.js';
import { useBackend } from './backend.js';
import { biasedSoftmax, geluNewWithSigmoid, nativeGram, swiglu, swigluGrad, softmaxGrad, softmaxWithLse } from './fused.js';
import { configureNative, nativeAddon, nativeStatus, type NativeInfo } from './native.js';
import { NATIVE_SOFTMAX } from './kernels/native-ops.js';
import { assertClose, liveCounts, runOn, values } from './kernels/test-utils.js';

const MASKED = -1e9; // models/attention.ts's mask value
const status = nativeStatus();
const skip = status.available ? false : `native engine not built: ${status.reason}`;
const ALL_ISAS: NativeInfo['isa'][] = ['portable', 'avx2', 'avx512'];
const ISAS = status.available ? ALL_ISAS.slice(0, ALL_ISAS.indexOf(status.info.isa) + 1) : [];

interface SoftmaxCase {
  x: number[];
  bias?: number[]; // [Bb, 1, T, S]
  causal?: boolean; // bias = the causal mask (MASKED above the diagonal), else random values
}

const SOFTMAX_CASES: SoftmaxCase[] = [
  { x: [1, 1] },
  { x: [7, 129] },
  { x: [3, 1] },
  { x: [1, 1, 1, 1], bias: [1, 1, 1, 1], causal: true },
  { x: [2, 3, 7, 7], bias: [1, 1, 7, 7], causal: true },
  { x: [2, 3, 5, 129], bias: [2, 1, 5, 129] },
  { x: [2, 2, 33, 33], bias: [1, 1, 33, 33], causal: true },
];

function biasValues(c: SoftmaxCase): Float32Array {
  const shape = c.bias!;
  const n = shape.reduce((a, b) => a * b, 1);
  if (!c.causal) return values(n, 11, 2);
  const [, , T, S] = shape;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) if (i % S > Math.floor(i / S) % T) out[i] = MASKED;
  return out;
}

/** softmax(x + bias) and logsumexp per row in Float64, broadcasting bias [Bb, 1, T, S] over [B, nH, T, S]. */
function reference(c: SoftmaxCase, x: Float32Array, bias: Float32Array | null): { y: Float64Array; lse: Float64Array } {
  const S = c.x[c.x.length - 1];
  const rows = x.length / S;
  const y = new Float64Array(x.length);
  const lse = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let biasRow = 0;
    if (bias !== null) {
      const [, nH, T] = c.x;
      const b = Math.floor(r / (nH * T));
      biasRow = (c.bias![0] === 1 ? 0 : b) * T + (r % T);
    }
    const z = Array.from({ length: S }, (_, j) => x[r * S + j] + (bias === null ? 0 : bias[biasRow * S + j]));
    const top = Math.max(...z);
    const sum = z.reduce((a, v) => a + Math.exp(v - top), 0);
    for (let j = 0; j < S; j++) y[r * S + j] = Math.exp(z[j] - top) / sum;
    lse[r] = top + Math.log(sum);
  }
  return { y, lse };
}

test('native softmax equals a Float64 softmax, with a causal or per-row bias and logsumexp, on every ISA', { skip }, async () => {
  const saved = nativeStatus();
  try {
    for (const isa of ISAS) {
      await useBackend('native');
      configureNative({ isa });
      for (const c of SOFTMAX_CASES) {
        const xv = values(c.x.reduce((a, b) => a * b, 1), 3);
        const bv = c.bias ? biasValues(c) : null;
        const [y, p, lse] = await runOn('native', () => {
          const x = tf.tensor(xv, c.x, 'float32');
          const bias = bv === null ? undefined : tf.tensor(bv, c.bias!, 'float32');
          const out = biasedSoftmax(x, bias);
          const withLse = softmaxWithLse(x);
          tf.dispose([x, bias]);
          return [out, withLse.p, withLse.lse];
        });
        const what = `${isa} x [${c.x}] bias [${c.bias ?? ''}]`;
        const ref = reference(c, xv, bv);
        assertClose(y, { shape: c.x, values: ref.y }, `${what}: softmax`, 1e-6);
        const plain = reference({ x: c.x }, xv, null);
        assertClose(p, { shape: c.x, values: plain.y }, `${what}: softmaxWithLse p`, 1e-6);
        assertClose(lse, { shape: c.x.slice(0, -1), values: plain.lse }, `${what}: logsumexp`, 1e-6);
        if (c.causal) {
          const S = c.x[3];
          for (let i = 0; i < y.values.length; i++) {
            if (i % S > Math.floor(i / S) % c.x[2]) assert.equal(y.values[i], 0, `${what}: masked entry ${i} is exactly 0`);
          }
        }
      }
    }
  } finally {
    if (saved.available) configureNative({ isa: saved.info.isa });
  }
});

test('native softmax gradient equals the cpu backend\'s taped softmax gradient, for odd sizes and every ISA', { skip }, async () => {
  const saved = nativeStatus();
  const shapes = [[1, 1], [7, 129], [2, 3, 7, 9], [5, 1]];
  try {
    for (const shape of shapes) {
      const n = shape.reduce((a, b) => a * b, 1);
      const f = (native: boolean) => () => {
        const x = tf.tensor(values(n, 5), shape, 'float32');
        const dy = tf.tensor(values(n, 6, 1), shape, 'float32');
        const y = tf.softmax(x, -1);
        const dx = native ? softmaxGrad(y, dy) : tf.grad((t: tf.Tensor) => tf.softmax(t, -1))(x, dy);
        tf.dispose([x, y, dy]);
        return [dx];
      };
      const [cpu] = await runOn('cpu', f(false));
      for (const isa of ISAS) {
        await useBackend('native');
        configureNative({ isa });
        const [native] = await runOn('native', f(true));
        assertClose(native, cpu, `${isa} softmax gradient [${shape}]`, 1e-5);
      }
    }
  } finally {
    if (saved.available) configureNative({ isa: saved.info.isa });
  }
});

test('native softmax and its gradient give the same bits on 1 and 2 threads', { skip }, async () => {
  const saved = nativeStatus();
  const shape = [4, 4, 64, 64]; // 65,536 floats: past the size split over threads
  const f = () => {
    const x = tf.tensor(values(65536, 8), shape, 'float32');
    const bias = tf.tensor(biasValues({ x: shape, bias: [1, 1, 64, 64], causal: true }), [1, 1, 64, 64], 'float32');
    const dy = tf.tensor(values(65536, 9, 1), shape, 'float32');
    const y = biasedSoftmax(x, bias);
    const dx = softmaxGrad(y, dy);
    tf.dispose([x, bias, dy]);
    return [y, dx];
  };
  try {
    configureNative({ threads: 1 });
    const one = await runOn('native', f);
    configureNative({ threads: 2 });
    const two = await runOn('native', f);
    for (let i = 0; i < 2; i++) assert.deepEqual(two[i].values, one[i].values, `output ${i}`);
  } finally {
    if (saved.available) configureNative({ threads: saved.info.threads });
  }
});

test('native SwiGLU and its gradient equal silu(g)·u and its taped gradient on cpu, for odd sizes, large |g| and every ISA', { skip }, async () => {
  const saved = nativeStatus();
  const shapes = [[1], [7], [3, 129], [2, 5, 4000]]; // the last: split over threads
  try {
    for (const shape of shapes) {
      const n = shape.reduce((a, b) => a * b, 1);
      const gv = values(n, 12, 6);
      gv[0] = 90; // σ saturates without overflow on either side
      if (n > 1) gv[1] = -90;
      const f = (native: boolean) => () => {
        const g = tf.tensor(gv, shape, 'float32');
        const u = tf.tensor(values(n, 13, 2), shape, 'float32');
        const dh = tf.tensor(values(n, 14, 1), shape, 'float32');
        const silu = (x: tf.Tensor, y: tf.Tensor) => tf.mul(tf.mul(x, tf.sigmoid(x)), y);
        const out = native ? [swiglu(g, u), ...swigluGrad(g, u, dh)] : [silu(g, u), ...tf.grads(silu)([g, u], dh)];
        tf.dispose([g, u, dh]);
        return out;
      };
      const cpu = await runOn('cpu', f(false));
      for (const isa of ISAS) {
        await useBackend('native');
        configureNative({ isa });
        const native = await runOn('native', f(true));
        ['h', 'dgate', 'dup'].forEach((name, i) => assertClose(native[i], cpu[i], `${isa} swiglu ${name} [${shape}]`, 1e-5));
      }
    }
  } finally {
    if (saved.available) configureNative({ isa: saved.info.isa });
  }
});

test('native gelu_new equals 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) in Float64, and s its σ(2u), on every ISA', { skip }, async () => {
  const saved = nativeStatus();
  const n = 1 + 7 + 129;
  const xv = values(n, 15, 8);
  xv[0] = 40; // σ saturates on both sides
  xv[1] = -40;
  try {
    for (const isa of ISAS) {
      await useBackend('native');
      configureNative({ isa });
      const [y, s] = await runOn('native', () => {
        const x = tf.tensor(xv, [n], 'float32');
        const out = geluNewWithSigmoid(x);
        x.dispose();
        return [out.y, out.s];
      });
      const k = Math.sqrt(2 / Math.PI);
      const u = Array.from(xv, (x) => k * (x + 0.044715 * x ** 3));
      assertClose(y, { shape: [n], values: Array.from(xv, (x, i) => 0.5 * x * (1 + Math.tanh(u[i]))) }, `${isa} gelu_new`, 1e-6);
      assertClose(s, { shape: [n], values: u.map((v) => 1 / (1 + Math.exp(-2 * v))) }, `${isa} σ(2u)`, 1e-6);
    }
  } finally {
    if (saved.available) configureNative({ isa: saved.info.isa });
  }
});

/** The largest |native − Float64 sum| of one Gram, relative to Σ|terms|, for x, y laid out [len, r] (byRows) or [r, len]. */
function gramError(xv: Float32Array, yv: Float32Array, len: number, r: number, byRows: boolean): number {
  const shape: [number, number] = byRows ? [len, r] : [r, len];
  const [x, y] = [tf.tensor2d(xv, shape), tf.tensor2d(yv, shape)];
  const got = nativeGram(x, y, byRows);
  assert.ok(got !== null, 'nativeGram is null on the native engine');
  const self = nativeGram(x, x, byRows)!;
  tf.dispose([x, y]);
  for (let i = 0; i < r; i++) for (let j = 0; j < i; j++) assert.equal(self[i * r + j], self[j * r + i], 'a Gram of x with itself is symmetric');
  const at = (v: Float32Array, i: number, k: number) => (byRows ? v[k * r + i] : v[i * len + k]); // element k of column (row) i
  let worst = 0;
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < r; j++) {
      let want = 0;
      let scale = 0;
      for (let k = 0; k < len; k++) (want += at(xv, i, k) * at(yv, j, k)), (scale += Math.abs(at(xv, i, k) * at(yv, j, k)));
      worst = Math.max(worst, Math.abs(got[i * r + j] - want) / (scale || 1));
    }
  }
  return worst;
}

test("native Gram (LoRA-Pro's BᵀB, A·Aᵀ, Bᵀ·gB, gA·Aᵀ) equals a Float64 sum over the float32 values, both layouts, odd sizes, every ISA", { skip }, async () => {
  const saved = nativeStatus();
  await useBackend('native');
  try {
    for (const isa of ISAS) {
      configureNative({ isa });
      for (const [len, r] of [[1, 1], [7, 3], [129, 8], [1000, 16], [5, 64]]) {
        const [xv, yv] = [values(len * r, len + r, 2), values(len * r, 3 * len + r, 0.01)];
        for (const byRows of [true, false]) {
          const worst = gramError(xv, yv, len, r, byRows);
          assert.ok(worst < 1e-14, `${isa} len ${len} r ${r} ${byRows ? 'rows' : 'columns'}: relative error ${worst}, not a Float64 sum`);
        }
      }
    }
  } finally {
    if (saved.available) configureNative({ isa: saved.info.isa });
  }
  const [a, b] = [tf.zeros([3, 4]) as tf.Tensor2D, tf.zeros([4, 3]) as tf.Tensor2D];
  assert.equal(nativeGram(a, b, true), null, 'different shapes: no native route');
  tf.dispose([a, b]);
});

test('bad native kernel calls are refused with a message naming the kernel', { skip }, async () => {
  await useBackend('native');
  const x = tf.zeros([2, 3, 4, 4]);
  const bias = tf.zeros([4]);
  try {
    assert.throws(() => tf.engine().runKernel(NATIVE_SOFTMAX, { x, bias }, { withLse: false }), /LoraproNativeSoftmax: bias \[4\] does not broadcast as \[B or 1, 1, T, S\] over x \[2,3,4,4\]/);
    // the op falls back to add + softmax for a bias the kernel cannot broadcast
    const y = biasedSoftmax(x, bias);
    assert.deepEqual(y.shape, [2, 3, 4, 4]);
    y.dispose();
    const addon = nativeAddon()!;
    const heap = new ArrayBuffer(64);
    assert.throws(() => addon.softmax(heap, 0, -1, 0, -1, 5, 4, 1, 1, 1), /softmax reads or writes outside the heap/);
    assert.throws(() => addon.softmaxGrad(heap, 0, 0, 2, 1, 4), /softmaxGrad reads or writes outside the heap/);
    assert.throws(() => addon.adam(heap, -1, 0, 0, 0, 0, 0, 0, 17, 1, 0.9, 0.999, 1e-8, 1, 1, 1, 1), /adam reads or writes outside the heap/);
    assert.throws(() => (addon.adam as unknown as (...a: unknown[]) => void)(heap, 0), /adam takes 17 arguments/);
    assert.throws(() => addon.swiglu(heap, 0, 0, 0, -1), /swiglu needs n >= 0/);
    assert.throws(() => addon.geluNew(heap, 0, 8, 16, 13, 1, 1), /geluNew reads or writes outside the heap/);
    assert.throws(() => addon.swigluGrad(heap, 0, 0, 0, 0, 60, 2), /swigluGrad reads or writes outside the heap/);
    assert.throws(() => addon.gram(heap, 0, 32, 5, 2, 1), /gram reads or writes outside the heap/);
    assert.throws(() => addon.gram(heap, 0, 0, 2, 0, 0), /gram needs len >= 0 and 1 <= r <= 4096/);
  } finally {
    tf.dispose([x, bias]);
  }
});

test('without the native binary the fused ops take the op-by-op route: same values, nativeOpsOn false', () => {
  const fused = JSON.stringify(fileURLToPath(new URL('./fused.js', import.meta.url)));
  const backend = JSON.stringify(fileURLToPath(new URL('./backend.js', import.meta.url)));
  const script = `
    const f = await import(${fused}); const { tf } = await import(${JSON.stringify(fileURLToPath(new URL('./tf.js', import.meta.url)))});
    await (await import(${backend})).useBackend();
    const x = tf.tensor([1, 2, 3, 4, 0, 0, 0, 0], [1, 1, 2, 4]);
    const bias = tf.tensor([0, 0, -1e9, -1e9, 0, 0, 0, -1e9], [1, 1, 2, 4]);
    const y = f.biasedSoftmax(x, bias);
    const g = f.geluNewWithSigmoid(tf.tensor([1])).y;
    console.log(tf.getBackend(), f.nativeOpsOn(), Array.from(await y.data()).map((v) => v.toFixed(4)).join(','), (await g.data())[0].toFixed(4));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, LORAPRO_BACKEND: '', LORAPRO_NATIVE_PATH: '/nonexistent/lorapro.node' },
  });
  assert.equal(r.status, 0, r.stderr);
  // softmax([1, 2]) = [e⁻¹, 1]/(1 + e⁻¹) = 0.2689, 0.7311; three equal zeros: 1/3 each; gelu_new(1) = 0.8412
  assert.equal(r.stdout.trim(), 'wasm false 0.2689,0.7311,0.0000,0.0000,0.3333,0.3333,0.3333,0.0000 0.8412');
});
