import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf.js';
import { useBackend } from '../backend.js';
import { assertClose, liveCounts, onCpuAndWasm, matMulCaseName, storedShape, TRANSPOSES, type MatMulCase } from './test-utils.js';



// m a multiple of 4 and n of 8 go to the SIMD kernel (simd-gemm.ts): one tile, blocks of 64 rows and 256
// steps of k with their remainders, a transposed A read as columns or (m = 1,024: 4 KB between its rows)
// the product computed transposed or A transposed first. Sizes 1, 7 and 33 hit the scalar-loop path (m*k*n < 6144 per matrix); the larger ones
// the XNNPACK paths: one product, a broadcast operand folded into rows, and a loop over matrices.
const CASES: MatMulCase[] = [
  { aBatch: [], bBatch: [], m: 4, k: 1, n: 8 },
  { aBatch: [], bBatch: [], m: 12, k: 5, n: 16 },
  { aBatch: [], bBatch: [], m: 132, k: 300, n: 24 },
  { aBatch: [], bBatch: [], m: 1024, k: 9, n: 8 }, // transposed A with 4 KB rows: product computed transposed
  { aBatch: [], bBatch: [], m: 1024, k: 4, n: 16 }, // … or A transposed first
  { aBatch: [3], bBatch: [3], m: 8, k: 20, n: 16 },
  { aBatch: [4], bBatch: [], m: 20, k: 40, n: 8 }, // right side broadcast: rows folded when A is not transposed
  { aBatch: [], bBatch: [4], m: 20, k: 40, n: 8 },
  { aBatch: [], bBatch: [], m: 7, k: 33, n: 5 },
  { aBatch: [], bBatch: [], m: 1, k: 33, n: 7 },
  { aBatch: [], bBatch: [], m: 33, k: 7, n: 1 },
  { aBatch: [], bBatch: [], m: 33, k: 64, n: 40 },
  { aBatch: [], bBatch: [], m: 1, k: 128, n: 64 },
  { aBatch: [], bBatch: [], m: 64, k: 1, n: 97 },
  { aBatch: [3], bBatch: [3], m: 7, k: 33, n: 5 },
  { aBatch: [3], bBatch: [3], m: 33, k: 40, n: 7 },
  { aBatch: [4], bBatch: [], m: 33, k: 40, n: 7 }, // right side broadcast, as a rank-3 Linear input
  { aBatch: [4], bBatch: [1], m: 7, k: 33, n: 5 },
  { aBatch: [], bBatch: [4], m: 33, k: 40, n: 7 }, // left side broadcast
  { aBatch: [1], bBatch: [4], m: 7, k: 33, n: 5 },
  { aBatch: [2, 3], bBatch: [2, 3], m: 7, k: 33, n: 5 },
  { aBatch: [2, 3], bBatch: [2, 3], m: 33, k: 40, n: 7 },
  { aBatch: [2, 3], bBatch: [], m: 33, k: 40, n: 7 },
];


test('matMul on wasm equals cpu for every transpose, batch and broadcast case', async () => {
  for (const [i, c] of CASES.entries()) {
    for (const [ta, tb] of TRANSPOSES) {
      const { cpu, wasm } = await onCpuAndWasm(() => {
        const a = tf.randomUniform(storedShape(c.aBatch, c.m, c.k, ta), -1, 1, 'float32', 100 + i);
        const b = tf.randomUniform(storedShape(c.bBatch, c.k, c.n, tb), -1, 1, 'float32', 200 + i);
        return [tf.matMul(a, b, ta, tb)];
      });
      assertClose(wasm[0], cpu[0], matMulCaseName(c, ta, tb));
    }
  }
});

// Batch dims that broadcast from both sides ([2, 1] with [3]): the cpu backend indexes batches modulo
// their count and gets these wrong, so the reference is a plain loop over the definition.
test('matMul on wasm broadcasts batch dims from both sides', async () => {
  await useBackend('wasm');
  // The XNNPACK loop over matrices, then the SIMD kernel's
  for (const [m, k, n] of [[33, 40, 7], [4, 6, 8]]) {
    const a = tf.randomUniform([2, 1, m, k], -1, 1, 'float32', 7);
    const b = tf.randomUniform([3, k, n], -1, 1, 'float32', 8);
    const [av, bv] = [await a.data(), await b.data()];
    const expected = new Float32Array(2 * 3 * m * n);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        for (let r = 0; r < m; r++) {
          for (let c = 0; c < n; c++) {
            let s = 0;
            for (let p = 0; p < k; p++) s += av[(i * m + r) * k + p] * bv[(j * k + p) * n + c];
            expected[((i * 3 + j) * m + r) * n + c] = s;
          }
        }
      }
    }
    const y = tf.matMul(a, b);
    assertClose({ shape: y.shape, dtype: y.dtype, values: await y.data() }, { shape: [2, 3, m, n], values: expected }, `[2,1] x [3], ${m}x${k}x${n}`);
    tf.dispose([a, b, y]);
  }
});

// The module caches XNNPACK's packing of a right operand by tensor id; a reshape shares the id, not the [k, n]
// (the stock kernel aborts the wasm module here).
test('matMul on wasm is right for a reused right operand and for a reshape of it', async () => {
  const { cpu, wasm } = await onCpuAndWasm(() => {
    const w = tf.randomUniform([40, 120], -1, 1, 'float32', 3);
    const x = tf.randomUniform([50, 40], -1, 1, 'float32', 4);
    const first = tf.matMul(x, w); // [50, 120]
    const again = tf.matMul(tf.neg(x), w); // the packing of w, reused
    const reshaped = tf.matMul(tf.randomUniform([50, 120], -1, 1, 'float32', 5), tf.reshape(w, [120, 40])); // [50, 40]
    return [first, again, reshaped];
  });
  assertClose(wasm[0], cpu[0], 'first product');
  assertClose(wasm[1], cpu[1], 'product reusing the right operand');
  assertClose(wasm[2], cpu[2], 'product with the reshaped right operand');
});

test('matMul gradients on wasm equal cpu for both inputs', async () => {
  const shapes: MatMulCase[] = [
    { aBatch: [], bBatch: [], m: 33, k: 40, n: 7 },
    { aBatch: [3], bBatch: [3], m: 7, k: 33, n: 5 },
    { aBatch: [2, 3], bBatch: [2, 3], m: 33, k: 40, n: 7 },
  ];
  for (const [i, c] of shapes.entries()) {
    for (const [ta, tb] of TRANSPOSES) {
      const { cpu, wasm } = await onCpuAndWasm(() => {
        const a = tf.randomUniform(storedShape(c.aBatch, c.m, c.k, ta), -1, 1, 'float32', 300 + i);
        const b = tf.randomUniform(storedShape(c.bBatch, c.k, c.n, tb), -1, 1, 'float32', 400 + i);
        const dy = tf.randomUniform([...c.aBatch, c.m, c.n], -1, 1, 'float32', 500 + i);
        return tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, ta, tb))([a, b], dy);
      });
      assertClose(wasm[0], cpu[0], `d/da ${matMulCaseName(c, ta, tb)}`);
      assertClose(wasm[1], cpu[1], `d/db ${matMulCaseName(c, ta, tb)}`);
    }
  }
});

test('matMul on wasm leaves no tensor or buffer behind', async () => {
  await useBackend('wasm');
  const a = tf.randomUniform([2, 3, 33, 40], -1, 1, 'float32', 1); // [.., m, k]
  const aT = tf.transpose(a, [0, 1, 3, 2]); // [.., k, m]
  const b = tf.randomUniform([2, 3, 40, 7], -1, 1, 'float32', 2); // [.., k, n]
  const bT = tf.transpose(b, [0, 1, 3, 2]); // [.., n, k]
  const w = tf.randomUniform([40, 7], -1, 1, 'float32', 3);
  const step = () =>
    tf.tidy(() => {
      const products = TRANSPOSES.map(([ta, tb]) => tf.matMul(ta ? aT : a, tb ? bT : b, ta, tb));
      const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, false, true))([a, bT]);
      const small = tf.matMul(tf.randomUniform([2, 2], -1, 1, 'float32', 4), tf.ones([2, 2]));
      return [...products, ...grads, tf.matMul(a, w), small];
    });
  tf.dispose(step()); // warm-up: the first call binds the module's function
  const before = liveCounts();
  for (let i = 0; i < 5; i++) tf.dispose(step());
  assert.deepEqual(liveCounts(), before);
  tf.dispose([a, aT, b, bT, w]);
});

test('matMul on wasm refuses non-float32 operands by name', async () => {
  await useBackend('wasm');
  const x = tf.tensor2d([[1, 2]], [1, 2], 'int32');
  assert.throws(() => tf.matMul(x, tf.tensor2d([[1], [2]], [2, 1], 'int32')), /float32 only, got int32 x int32/);
});
