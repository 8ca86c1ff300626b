// The native engine (native/, ./native.ts): its matrix products against the cpu backend for every
// transpose, batch and broadcast case and odd sizes, in values and gradients, with each microkernel the
// CPU has and at 1 and 2 threads; the engine switch; and the fallback when the binary does not load.
// Skipped, with the reason, where the install could not build it (no compiler): the wasm path then runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tf } from './tf.js';
import { engineName, useBackend } from './backend.js';
import { configureNative, nativeStatus, type NativeInfo } from './native.js';
import { assertClose, runOn, matMulCaseName, storedShape, TRANSPOSES, type MatMulCase } from './kernels/test-utils.js';

const status = nativeStatus();
const skip = status.available ? false : `native engine not built: ${status.reason}`;
const ALL_ISAS: NativeInfo['isa'][] = ['portable', 'avx2', 'avx512'];
/** Every microkernel this CPU can run (each falls back to the one below it). */
const ISAS = status.available ? ALL_ISAS.slice(0, ALL_ISAS.indexOf(status.info.isa) + 1) : [];

// Sizes 1, 7 and 129 and others off every tile (8 x 32 on AVX-512, 6 x 16 on AVX2, 4 x 16 portable) and
// past the block sizes (k > 256, m > 192 rows of packed A, n > 2048 columns of packed B); batches equal,
// broadcast from either side or both, and folded (a shared right operand under an untransposed A).
const CASES: MatMulCase[] = [
  { aBatch: [], bBatch: [], m: 1, k: 1, n: 1 },
  { aBatch: [], bBatch: [], m: 7, k: 129, n: 1 },
  { aBatch: [], bBatch: [], m: 1, k: 7, n: 129 },
  { aBatch: [], bBatch: [], m: 129, k: 7, n: 33 },
  { aBatch: [], bBatch: [], m: 200, k: 300, n: 40 },
  { aBatch: [], bBatch: [], m: 3, k: 5, n: 2100 },
  { aBatch: [3], bBatch: [3], m: 7, k: 33, n: 5 },
  { aBatch: [4], bBatch: [], m: 33, k: 40, n: 7 },
  { aBatch: [], bBatch: [4], m: 33, k: 40, n: 7 },
  { aBatch: [4], bBatch: [1], m: 9, k: 17, n: 31 },
  { aBatch: [2, 3], bBatch: [2, 3], m: 13, k: 40, n: 17 },
  { aBatch: [2, 3], bBatch: [], m: 33, k: 40, n: 7 },
  { aBatch: [2, 1], bBatch: [3], m: 5, k: 6, n: 9 }, // both sides broadcast (the cpu backend mis-indexes it, hence the Float64 reference)
];

/** op(a) op(b) by the definition, in Float64, with TF's batch broadcasting (the reference for [2,1] x [3]). */
function reference(a: Float32Array, b: Float32Array, c: MatMulCase, ta: boolean, tb: boolean): { shape: number[]; values: Float64Array } {
  const rank = Math.max(c.aBatch.length, c.bBatch.length);
  const pad = (s: number[]) => [...new Array<number>(rank - s.length).fill(1), ...s];
  const [ab, bb] = [pad(c.aBatch), pad(c.bBatch)];
  const outBatch = ab.map((x, i) => Math.max(x, bb[i]));
  const count = outBatch.reduce((p, x) => p * x, 1);
  const values = new Float64Array(count * c.m * c.n);
  for (let t = 0; t < count; t++) {
    let rest = t, ai = 0, bi = 0, as = 1, bs = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const coord = rest % outBatch[d];
      rest = Math.floor(rest / outBatch[d]);
      if (ab[d] !== 1) ai += coord * as;
      if (bb[d] !== 1) bi += coord * bs;
      as *= ab[d];
      bs *= bb[d];
    }
    const A = ai * c.m * c.k, B = bi * c.k * c.n;
    for (let i = 0; i < c.m; i++)
      for (let j = 0; j < c.n; j++) {
        let s = 0;
        for (let p = 0; p < c.k; p++) s += a[A + (ta ? p * c.m + i : i * c.k + p)] * b[B + (tb ? j * c.k + p : p * c.n + j)];
        values[t * c.m * c.n + i * c.n + j] = s;
      }
  }
  return { shape: [...outBatch, c.m, c.n], values };
}

test('native matMul equals the definition for every transpose, batch, broadcast and odd size, with each microkernel', { skip }, async () => {
  await useBackend('native');
  const saved = status.available ? status.info : undefined;
  try {
    for (const isa of ISAS) {
      configureNative({ isa });
      for (const [i, c] of CASES.entries()) {
        for (const [ta, tb] of TRANSPOSES) {
          const a = tf.randomUniform(storedShape(c.aBatch, c.m, c.k, ta), -1, 1, 'float32', 100 + i);
          const b = tf.randomUniform(storedShape(c.bBatch, c.k, c.n, tb), -1, 1, 'float32', 200 + i);
          const y = tf.matMul(a, b, ta, tb);
          const expected = reference((await a.data()) as Float32Array, (await b.data()) as Float32Array, c, ta, tb);
          assertClose({ shape: y.shape, dtype: y.dtype, values: (await y.data()) as Float32Array }, expected, `${isa} ${matMulCaseName(c, ta, tb)}`, 1e-5);
          tf.dispose([a, b, y]);
        }
      }
    }
  } finally {
    if (saved) configureNative({ isa: saved.isa });
  }
});

// Equal batches only: TF.js's BatchMatMul gradient returns a broadcast operand's gradient unsummed on every backend.
test('native matMul gradients equal the cpu backend', { skip }, async () => {
  for (const [i, c] of CASES.filter((x) => x.aBatch.join() === x.bBatch.join()).entries()) {
    for (const [ta, tb] of TRANSPOSES) {
      const f = () => {
        const a = tf.randomUniform(storedShape(c.aBatch, c.m, c.k, ta), -1, 1, 'float32', 300 + i);
        const b = tf.randomUniform(storedShape(c.bBatch, c.k, c.n, tb), -1, 1, 'float32', 400 + i);
        const w = tf.randomUniform(tf.matMul(a, b, ta, tb).shape, -1, 1, 'float32', 500 + i);
        const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, ta, tb), w)))([a, b]);
        return [ga, gb];
      };
      const cpu = await runOn('cpu', f);
      const native = await runOn('native', f);
      assertClose(native[0], cpu[0], `dA of ${matMulCaseName(c, ta, tb)}`);
      assertClose(native[1], cpu[1], `dB of ${matMulCaseName(c, ta, tb)}`);
    }
  }
});

test('native matMul gives the same bits on 1 and 2 threads', { skip }, async () => {
  const saved = status.available ? status.info.threads : 1;
  const f = () => [tf.matMul(tf.randomUniform([4, 130, 70], -1, 1, 'float32', 1), tf.randomUniform([70, 300], -1, 1, 'float32', 2)), tf.matMul(tf.randomUniform([600, 64], -1, 1, 'float32', 3), tf.randomUniform([600, 96], -1, 1, 'float32', 4), true, false)];
  try {
    configureNative({ threads: 1 });
    const one = await runOn('native', f);
    configureNative({ threads: 2 });
    const two = await runOn('native', f);
    for (let i = 0; i < one.length; i++) assert.deepEqual(two[i].values, one[i].values, `product ${i}`);
  } finally {
    configureNative({ threads: saved });
  }
});

test('thousands of back-to-back threaded products each come out whole', { skip }, async () => {
  await useBackend('native');
  const saved = status.available ? status.info.threads : 1;
  const shapes: [number, number, number][] = [[64, 48, 40], [96, 64, 33], [40, 100, 70]]; // each above the threading threshold
  const inputs = shapes.map(([m, k, n], i) => [tf.randomUniform([m, k], -1, 1, 'float32', 20 + i), tf.randomUniform([k, n], -1, 1, 'float32', 30 + i)]);
  try {
    configureNative({ threads: 1 });
    const expected = await Promise.all(inputs.map(async ([a, b]) => tf.matMul(a, b).data()));
    configureNative({ threads: 2 });
    for (let round = 0; round < 1000; round++) {
      const i = round % shapes.length;
      const y = tf.matMul(inputs[i][0], inputs[i][1]);
      const got = y.dataSync();
      y.dispose();
      assert.deepEqual(got, expected[i], `round ${round}, product ${i}`);
    }
  } finally {
    tf.dispose(inputs.flat());
    configureNative({ threads: saved });
  }
});

test('the engine switch: native by default where built, wasm and cpu on request, native refused by name when missing', { skip }, async () => {
  const saved = process.env.LORAPRO_BACKEND;
  delete process.env.LORAPRO_BACKEND;
  try {
    assert.equal(await useBackend(), 'native');
    assert.equal(await useBackend('wasm'), 'wasm');
    assert.equal(engineName(), 'wasm');
    assert.equal(await useBackend('native'), 'native');
    assert.equal(tf.getBackend(), 'wasm', 'the native engine runs under the wasm backend');
  } finally {
    if (saved === undefined) delete process.env.LORAPRO_BACKEND;
    else process.env.LORAPRO_BACKEND = saved;
    await useBackend();
  }
});

// A child process with the binary made unloadable, as after a failed build.
const INDEX = fileURLToPath(new URL('../index.js', import.meta.url));
function child(env: Record<string, string>, script: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', `import * as lp from ${JSON.stringify(INDEX)}; ${script}`], {
    encoding: 'utf8',
    env: { ...process.env, LORAPRO_BACKEND: '', LORAPRO_NATIVE_PATH: '/nonexistent/lorapro.node', ...env },
  });
}

test('without the native binary the package computes on wasm and says so once', () => {
  const r = child({}, "const y = lp.tf.matMul(lp.tf.ones([3, 4]), lp.tf.ones([4, 2])); console.log(lp.engineName(), (await y.data()).join(','));");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'wasm 4,4,4,4,4,4');
  const said = r.stderr.split('\n').filter((l) => l.includes('native engine unavailable'));
  assert.equal(said.length, 1, r.stderr);
  assert.match(said[0], /\/nonexistent\/lorapro\.node/);
});

test('LORAPRO_BACKEND=native without the binary is an error naming why', () => {
  const r = child({ LORAPRO_BACKEND: 'native' }, '');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /native engine was requested \(from LORAPRO_BACKEND\) but is unavailable: .*\/nonexistent\/lorapro\.node/);
});
