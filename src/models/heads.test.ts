import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { nativeStatus } from '../engine/native.js';
import { createModel } from './auto.js';
import { causalLmLoss, chunkedCausalLmLoss, crossEntropy, IGNORE_INDEX } from './heads.js';
import { randomInit } from './layers.js';
import { TINY, assertClose, int2d } from './testing.js';

// native: the wasm backend with the native softmax + logsumexp kernel (where it was built)
const BACKENDS = nativeStatus().available ? (['cpu', 'wasm', 'native'] as const) : (['cpu', 'wasm'] as const);

/** Masked, shifted cross-entropy by hand from the logits: Σ −log softmax(z[b,t])[y[b,t+1]] / count. */
function handLoss(logits: number[][][], labels: number[][]): number {
  let sum = 0;
  let count = 0;
  logits.forEach((row, b) => {
    for (let t = 0; t + 1 < row.length; t++) {
      const y = labels[b][t + 1];
      if (y === IGNORE_INDEX) continue;
      const z = row[t];
      const max = Math.max(...z);
      const logZ = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
      sum += logZ - z[y];
      count++;
    }
  });
  return sum / count;
}

test('causal-LM loss with -100 labels equals the hand-computed masked cross-entropy', async () => {
  await useBackend('wasm');
  for (const kind of ['gpt2', 'llama'] as const) {
    const model = createModel(TINY[kind](), { task: 'causal-lm', init: randomInit(3, 0.3) });
    const ids = int2d([
      [1, 5, 9, 13, 17, 21],
      [2, 4, 6, 8, 0, 0],
    ]);
    const mask = int2d([
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 0, 0],
    ]);
    const labelRows = [
      [-100, 5, 9, -100, 17, 21], // prompt token masked out
      [2, 4, 6, 8, -100, -100], // padding masked out
    ];
    const labels = int2d(labelRows);
    const logits = model.logits(ids, { attentionMask: mask });
    const expected = handLoss((await logits.array()) as number[][][], labelRows);
    const loss = model.loss(ids, labels, mask);
    assertClose([(await loss.data())[0]], [expected], 1e-5, `${kind} loss`);
    tf.dispose([ids, mask, labels, logits, loss]);
    model.dispose();
  }
});

test('cross-entropy over only ignored labels is 0, not NaN', async () => {
  await useBackend('wasm');
  const ce = crossEntropy(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor1d([IGNORE_INDEX, IGNORE_INDEX], 'int32'));
  assert.ok((await ce.data())[0] === 0); // ±0
  ce.dispose();
});

test('decoder classifiers score the last real token: padded rows equal their unpadded runs', async () => {
  await useBackend('wasm');
  for (const kind of ['gpt2', 'llama'] as const) {
    const model = createModel(TINY[kind](), { task: 'sequence-classification', numLabels: 3, init: randomInit(5, 0.3) });
    const rows = [[3, 7, 11, 15, 19], [4, 8, 12], [9, 2, 30, 5]];
    // right, right and left padding to length 6
    const padded = [[...rows[0], 0], [...rows[1], 0, 0, 0], [0, 0, ...rows[2]]];
    const mask = [[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1]];
    const batch = model.classify(int2d(padded), int2d(mask));
    const got = (await batch.array()) as number[][];
    for (let i = 0; i < rows.length; i++) {
      const single = model.classify(int2d([rows[i]]), int2d([rows[i].map(() => 1)]));
      assertClose(got[i], (await single.array())[0], 1e-5, `${kind} row ${i}`);
      single.dispose();
    }
    // …and the wrong token would not do: the first row's score at its pad position differs.
    const allOnes = model.classify(int2d([padded[0]]), int2d([[1, 1, 1, 1, 1, 1]]));
    assert.notDeepEqual((await allOnes.array())[0], got[0]);
    tf.dispose([batch, allOnes]);
    model.dispose();
  }
});

test('classification loss is the mean cross-entropy of the classify logits', async () => {
  await useBackend('wasm');
  const model = createModel(TINY.bert(), { task: 'sequence-classification', numLabels: 3, init: randomInit(6, 0.3) });
  const ids = int2d([[1, 5, 7, 2], [1, 9, 2, 0]]);
  const mask = int2d([[1, 1, 1, 1], [1, 1, 1, 0]]);
  const labels = tf.tensor1d([2, 0], 'int32');
  const logits = model.classify(ids, mask);
  const z = (await logits.array()) as number[][];
  const expected = (Math.log(z[0].reduce((s, v) => s + Math.exp(v), 0)) - z[0][2] + Math.log(z[1].reduce((s, v) => s + Math.exp(v), 0)) - z[1][0]) / 2;
  const loss = model.loss(ids, mask, labels);
  assertClose(await loss.data(), [expected], 1e-5, 'bert loss');
  tf.dispose([ids, mask, labels, logits, loss]);
  model.dispose();
});

test('dropout applies only when training, with seeded masks', async () => {
  await useBackend('wasm');
  const make = () => createModel(TINY.gpt2(), { task: 'causal-lm', init: randomInit(8, 0.3), dropout: { hidden: 0.3, attention: 0.3 }, dropoutSeed: 4 });
  const [a, b] = [make(), make()];
  const ids = int2d([[1, 2, 3, 4]]);
  const evalA = await a.logits(ids).data();
  const evalAgain = await a.logits(ids, { training: false }).data();
  const trainA = await a.logits(ids, { training: true }).data();
  const trainB = await b.logits(ids, { training: true }).data();
  assert.deepEqual(evalA, evalAgain);
  assert.notDeepEqual(trainA, evalA);
  assert.deepEqual(trainA, trainB, 'same dropout seed, same masks');
  a.dispose();
  b.dispose();
  ids.dispose();
});

// The loss as log-softmax plus a gather, differentiated by TF.js op by op: an independent route.
function referenceCrossEntropy(logits: tf.Tensor2D, labels: number[]): tf.Scalar {
  const logp = tf.logSoftmax(logits, -1);
  const rows = labels.flatMap((y, n) => (y === IGNORE_INDEX ? [] : [n * logits.shape[1] + y]));
  return tf.div(tf.neg(tf.sum(tf.gather(tf.reshape(logp, [-1]), tf.tensor1d(rows, 'int32')))), rows.length) as tf.Scalar;
}

for (const backend of BACKENDS) {
  test(`cross-entropy on ${backend}: value and gradient equal log-softmax + gather, ignored rows get zero gradient`, async () => {
    await useBackend(backend);
    const labelList = [3, IGNORE_INDEX, 0, 6, 6, IGNORE_INDEX];
    const logits = tf.mul(tf.randomUniform([6, 7], -1, 1, 'float32', 4), 5) as tf.Tensor2D;
    const labels = tf.tensor1d(labelList, 'int32');
    const got = tf.valueAndGrad((z: tf.Tensor) => crossEntropy(z as tf.Tensor2D, labels))(logits);
    const want = tf.valueAndGrad((z: tf.Tensor) => referenceCrossEntropy(z as tf.Tensor2D, labelList))(logits);
    assertClose(await got.value.data(), await want.value.data(), 1e-5, 'loss');
    assertClose(await got.grad.data(), await want.grad.data(), 1e-5, 'gradient');
    const g = (await got.grad.array()) as number[][];
    assert.ok(g[1].every((v) => v === 0) && g[5].every((v) => v === 0), 'ignored rows');
    tf.dispose([logits, labels, got.value, got.grad, want.value, want.grad]);
  });
}

for (const backend of BACKENDS) {
  test(`cross-entropy on ${backend} stays exact for far-apart logits (a label 500 nats below the best)`, async () => {
    await useBackend(backend);
    const logits = tf.tensor2d([[0, 200, -300], [1, 1, 1]]);
    const labels = tf.tensor1d([2, 0], 'int32');
    const got = tf.valueAndGrad((z: tf.Tensor) => crossEntropy(z as tf.Tensor2D, labels))(logits);
    // row 0: logsumexp = 200 (+ e^-200), label −300 → 500; row 1: log 3; mean over two rows
    assertClose(await got.value.data(), [(500 + Math.log(3)) / 2], 1e-6, 'loss');
    assertClose(await got.grad.data(), [0, 0.5, -0.5, (1 / 3 - 1) / 2, 1 / 6, 1 / 6], 1e-6, 'gradient');
    tf.dispose([logits, labels, got.value, got.grad]);
  });
}

test('cross-entropy gradients leave no tensor behind', async () => {
  await useBackend('wasm');
  const logits = tf.randomUniform([4, 5], -1, 1, 'float32', 2);
  const labels = tf.tensor1d([1, IGNORE_INDEX, 4, 0], 'int32');
  const step = () => tf.tidy(() => tf.grad((z: tf.Tensor) => crossEntropy(z as tf.Tensor2D, labels))(logits));
  tf.dispose(step());
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(step());
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([logits, labels]);
});

// The chunked loss of a frozen head against the hand-derived loss of its whole logits, and its input
// gradient against autodiff through the ordinary loss; chunks of 3 rows split batches mid-sequence.
for (const backend of BACKENDS) {
  test(`chunkedCausalLmLoss equals the loss of the whole logits, value and dL/dh (${backend})`, async () => {
    await useBackend(backend);
    const [B, T, d, V] = [2, 5, 4, 7];
    const h = tf.tensor3d(Array.from({ length: B * T * d }, (_, i) => Math.sin(i * 1.3)), [B, T, d]);
    const w = tf.tensor2d(Array.from({ length: V * d }, (_, i) => Math.cos(i * 0.7)), [V, d]); // [V, d]
    const labels = int2d([[1, 6, IGNORE_INDEX, 3, 0], [2, 2, 5, IGNORE_INDEX, 4]]);
    const head = { vocab: V, logits: (x: tf.Tensor2D) => tf.matMul(x, w, false, true) as tf.Tensor2D, inputGrad: (dz: tf.Tensor2D) => tf.matMul(dz, w) as tf.Tensor2D };
    const whole = (x: tf.Tensor3D) => causalLmLoss(tf.reshape(head.logits(tf.reshape(x, [B * T, d]) as tf.Tensor2D), [B, T, V]) as tf.Tensor3D, labels);
    const logits = (await tf.reshape(head.logits(tf.reshape(h, [B * T, d]) as tf.Tensor2D), [B, T, V]).array()) as number[][][];
    const expected = handLoss(logits, (await labels.array()) as number[][]);
    for (const rows of [3, 1, 100]) {
      const value = (await chunkedCausalLmLoss(h, labels, head, rows).data())[0];
      assert.ok(Math.abs(value - expected) < 1e-5 * Math.max(1, Math.abs(expected)), `${rows} rows a chunk: ${value} vs ${expected}`);
      const got = await tf.grad((x: tf.Tensor) => chunkedCausalLmLoss(x as tf.Tensor3D, labels, head, rows))(h).data();
      const want = await tf.grad((x: tf.Tensor) => whole(x as tf.Tensor3D))(h).data();
      assertClose(Array.from(got), Array.from(want), 1e-5, `dL/dh, ${rows} rows a chunk`);
    }
    tf.dispose([h, w, labels]);
  });
}
