import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from 'ml-matrix';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { Rng } from '../math/rng.js';
import { AdamW, adamDirection, adamHyper, applyUpdate } from './adamw.js';
import { SGD } from './sgd.js';
import { createLoraPlus } from './lora-plus.js';
import { LORA_PRO_SGD_DAMPING, LoraProSGD } from './lora-pro-sgd.js';
import { LoraProAdamW } from './lora-pro-adamw.js';
import { equivalentGradient, loraProGradients, type XMode } from './lora-pro.js';
import { nativeStatus } from '../engine/native.js';
import { gradientApproximation } from './diagnostics.js';
import type { LoraPair, Optimizer } from './optimizer.js';
import { loraGradsFromFull, projectionReference, randomTensor, relativeError, toMatrix, wellConditioned } from './test-utils.js';

function pair(rng: Rng, m: number, n: number, r: number, s: number, zeroB = false): LoraPair {
  const A = tf.variable(wellConditioned(rng, [r, n]), true, `A${Math.random()}`) as tf.Variable<tf.Rank.R2>;
  const B = tf.variable(zeroB ? tf.zeros([m, r]) : wellConditioned(rng, [m, r]), true, `B${Math.random()}`) as tf.Variable<tf.Rank.R2>;
  return { module: 'layer', aName: 'layer.lora_A.weight', bName: 'layer.lora_B.weight', A, B, scale: s };
}

const merged = (p: LoraPair) => tf.tidy(() => tf.mul(tf.matMul(p.B, p.A), p.scale));

test('AdamW matches a hand-derived two-step update', async () => {
  await useBackend('cpu');
  const w = tf.variable(tf.tensor1d([1, -2]), true, 'w-adamw');
  const opt = new AdamW(new Map([['w', w]]), { lr: 0.1, weightDecay: 0.5, eps: 1e-8 });
  // Step 1, g = [0.5, -1]: m̂ = g, v̂ = g², direction = g/|g| = [1, -1];
  //   w = w·(1 − 0.1·0.5) − 0.1·[1, −1] = [0.95 − 0.1, −1.9 + 0.1] = [0.85, −1.8].
  await opt.step(new Map([['w', tf.tensor1d([0.5, -1])]]));
  assert.deepEqual(Array.from(await w.data()).map((x) => +x.toFixed(6)), [0.85, -1.8]);
  // Step 2, g = [0.5, -1] again: m̂ = g, v̂ = g², direction = [1, −1] (ε negligible):
  //   w = [0.85·0.95 − 0.1, −1.8·0.95 + 0.1] = [0.7075, −1.61].
  await opt.step(new Map([['w', tf.tensor1d([0.5, -1])]]));
  assert.deepEqual(Array.from(await w.data()).map((x) => +x.toFixed(5)), [0.7075, -1.61]);
  opt.dispose();
  w.dispose();
});

test('LoRA+ gives B a ratio times the learning rate of A', async () => {
  await useBackend('cpu');
  const rng = new Rng(3);
  const p = pair(rng, 6, 5, 2, 1);
  const [a0, b0] = [p.A.arraySync(), p.B.arraySync()];
  const opt = createLoraPlus(new Map([[p.aName, p.A], [p.bName, p.B]]), [p], { lr: 0.01, ratio: 4 });
  await opt.step(new Map([[p.aName, tf.onesLike(p.A)], [p.bName, tf.onesLike(p.B)]]));
  // First Adam step moves every entry by lr·sign(g): 0.01 for A and 0.04 for B.
  assert.ok(Math.abs(a0[0][0] - p.A.arraySync()[0][0] - 0.01) < 1e-6);
  assert.ok(Math.abs(b0[0][0] - p.B.arraySync()[0][0] - 0.04) < 1e-6);
  assert.equal(opt.name, 'lora-plus');
});

for (const backend of ['wasm', 'cpu']) {
  test(`[${backend}] first LoRA-Pro AdamW full step moves W by −lr·proj(sign(g̃)), bias-corrected from t = 1`, async () => {
    await useBackend(backend);
    const rng = new Rng(5);
    const [m, n, r, s, lr] = [12, 9, 3, 2, 0.01];
    const p = pair(rng, m, n, r, s, true); // B = 0, as PEFT initialises it
    const g = randomTensor(rng, [m, n]);
    const grads = new Map([[p.aName, tf.mul(tf.matMul(p.B, g, true, false), s)], [p.bName, tf.mul(tf.matMul(g, p.A, false, true), s)]]);
    const W0 = toMatrix(merged(p));
    const opt = new LoraProAdamW([p], new Map(), { lr, mode: 'full', eps: 1e-12 });
    await opt.step(grads);
    const dW = toMatrix(merged(p)).sub(W0);
    // With B = 0: g̃ = g·P_A; t = 1 bias correction gives ĝ = sign(g̃); its projection is sign(g̃)·P_A
    // (P_B = 0), and with B = 0 the step is exactly s·ΔB·A = −lr·sign(g̃)·P_A (no second-order term).
    const A = toMatrix(p.A);
    const gTilde = projectionReference(A, new Matrix(m, r), toMatrix(g));
    const sign = new Matrix(m, n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) sign.set(i, j, Math.sign(gTilde.get(i, j)));
    const expected = projectionReference(A, new Matrix(m, r), sign).mul(-lr);
    const err = relativeError(dW, expected);
    assert.ok(err < 1e-4, `ΔW differs from −lr·proj(sign(g̃)) by ${err}`);
    opt.dispose();
  });
}

/**
 * Algorithm 2 written out op by op, as the paper and the official code give it: adjust with X = 0,
 * the equivalent gradient g̃, Adam on g̃, ĝ's LoRA gradients adjusted with X, the AdamW update.
 */
async function algorithm2Step(p: LoraPair, gA: tf.Tensor2D, gB: tf.Tensor2D, moments: { m: tf.Variable; v: tf.Variable }, t: number, o: { lr: number; weightDecay: number; xMode: XMode }): Promise<void> {
  const { A, B, scale: s } = p;
  const zero = await loraProGradients({ A, B, gradA: gA, gradB: gB, scale: s, xMode: 'zero' });
  const gTilde = equivalentGradient({ A, B, gradA: zero.gradA, gradB: zero.gradB, scale: s });
  const dir = adamDirection(gTilde, moments.m, moments.v, t, adamHyper({ lr: o.lr, weightDecay: o.weightDecay }, 'reference'));
  const [dA, dB] = tf.tidy(() => [tf.mul(tf.matMul(B, dir, true, false), s), tf.mul(tf.matMul(dir, A, false, true), s)] as [tf.Tensor2D, tf.Tensor2D]);
  const adj = await loraProGradients({ A, B, gradA: dA, gradB: dB, scale: s, xMode: o.xMode });
  applyUpdate(A, adj.gradA, o.lr, o.weightDecay);
  applyUpdate(B, adj.gradB, o.lr, o.weightDecay);
  tf.dispose([zero.gradA, zero.gradB, gTilde, dir, dA, dB, adj.gradA, adj.gradB]);
}

for (const backend of ['wasm', 'cpu', ...(nativeStatus().available ? ['native'] : [])]) {
  test(`[${backend}] LoRA-Pro AdamW full step (folded r×r blocks) follows Algorithm 2 op by op, every xMode, with weight decay`, async () => {
    await useBackend(backend);
    for (const [m, n, r, s] of [[12, 9, 3, 2], [20, 24, 8, 0.5], [33, 17, 1, 16]] as const) {
      for (const xMode of ['sylvester', 'symmetric', 'zero'] as const) {
        const rng = new Rng(m * n + r);
        const ours = pair(rng, m, n, r, s);
        const ref: LoraPair = { ...ours, A: tf.variable(ours.A.clone()) as tf.Variable<tf.Rank.R2>, B: tf.variable(ours.B.clone()) as tf.Variable<tf.Rank.R2> };
        const o = { lr: 1e-2, weightDecay: 0.1, xMode };
        const opt = new LoraProAdamW([ours], new Map(), { ...o, mode: 'full' });
        const moments = { m: tf.variable(tf.zeros([m, n])), v: tf.variable(tf.zeros([m, n])) };
        for (let t = 1; t <= 4; t++) {
          const g = randomTensor(rng, [m, n]); // a fresh full gradient each step, seen through each side's own factors
          const mine = loraGradsFromFull(ours.A, ours.B, g, s);
          const theirs = loraGradsFromFull(ref.A, ref.B, g, s);
          const before = { A: toMatrix(ref.A), B: toMatrix(ref.B) };
          await opt.step(new Map([[ours.aName, mine.gradA], [ours.bName, mine.gradB]]));
          await algorithm2Step(ref, theirs.gradA, theirs.gradB, moments, t, o);
          tf.dispose([g, mine.gradA, mine.gradB, theirs.gradA, theirs.gradB]);
          for (const f of ['A', 'B'] as const) {
            // The step each side took from the same start (the factors differ by float32 round-off only).
            const err = relativeError(toMatrix(ours[f]).sub(before[f]), toMatrix(ref[f]).sub(before[f]));
            assert.ok(err < 1e-3, `${m}×${n} r=${r} s=${s} ${xMode} step ${t}: ${f}'s step differs from Algorithm 2's by ${err.toExponential(2)}`);
            ours[f].assign(ref[f]); // the next step starts from the same factors again
          }
        }
        opt.dispose();
        tf.dispose([ours.A, ours.B, ref.A, ref.B, moments.m, moments.v]);
      }
    }
  });
}

/**
 * Least squares with a full-rank target: minimise (1/2N)·||X·Wᵀ − Y||² over W = s·B·A (rank r),
 * Y = X·W*ᵀ with W* full rank, from W = 0. Full fine-tuning is the reference trajectory.
 */
function leastSquares(seed: number) {
  const rng = new Rng(seed);
  const [N, m, n, r, s] = [64, 16, 12, 3, 2];
  const X = randomTensor(rng, [N, n]);
  const Y = tf.matMul(X, randomTensor(rng, [m, n]), false, true); // [N, m]
  const loss = (W: tf.Tensor) => tf.tidy(() => tf.div(tf.sum(tf.square(tf.sub(tf.matMul(X, W, false, true), Y))), 2 * N) as tf.Scalar);
  const A0 = rng.uniformArray(r * n, -1 / Math.sqrt(n), 1 / Math.sqrt(n)); // PEFT's kaiming-uniform bound
  return { N, m, n, r, s, X, Y, loss, A0 };
}

async function runMethod(method: string, lr: number, steps: number, seed: number): Promise<{ loss: number; traj: Matrix[] }> {
  const { m, n, r, s, loss, A0 } = leastSquares(seed);
  const traj: Matrix[] = [];
  if (method === 'full') {
    const W = tf.variable(tf.zeros([m, n]), true, `W${Math.random()}`);
    const opt = new SGD(new Map([['W', W]]), { lr });
    for (let t = 0; t < steps; t++) {
      const { grads } = tf.variableGrads(() => loss(W), [W]);
      await opt.step(new Map([['W', grads[W.name]]]));
      tf.dispose(grads);
      traj.push(toMatrix(W));
    }
    return { loss: loss(W).dataSync()[0], traj };
  }
  const A = tf.variable(tf.tensor2d(A0, [r, n]), true, `A${Math.random()}`) as tf.Variable<tf.Rank.R2>;
  const B = tf.variable(tf.zeros([m, r]), true, `B${Math.random()}`) as tf.Variable<tf.Rank.R2>;
  const p: LoraPair = { module: 'w', aName: 'A', bName: 'B', A, B, scale: s };
  const params = new Map<string, tf.Variable>([['A', A], ['B', B]]);
  const opt: Optimizer = method === 'lora' ? new SGD(params, { lr }) : new LoraProSGD([p], new Map(), { lr });
  const W = () => tf.tidy(() => tf.mul(tf.matMul(B, A), s));
  for (let t = 0; t < steps; t++) {
    const { grads } = tf.variableGrads(() => loss(W()), [A, B]);
    await opt.step(new Map([['A', grads[A.name]], ['B', grads[B.name]]]));
    tf.dispose(grads);
    traj.push(toMatrix(W()));
  }
  return { loss: loss(W()).dataSync()[0], traj };
}

test('least squares with a full-rank target: LoRA-Pro beats LoRA on loss and tracks full fine-tuning', async () => {
  await useBackend('wasm');
  const steps = 40; // long enough to separate the methods, short of both reaching the best rank-3 fit
  const grid = [0.01, 0.03, 0.1, 0.3, 1];
  const attempt = async (method: string, lr: number) => {
    try {
      return { lr, ...(await runMethod(method, lr, steps, 7)) };
    } catch {
      return { lr, loss: Infinity, traj: [] }; // diverged at this learning rate
    }
  };
  const best = async (method: string) => {
    const runs = [];
    for (const lr of grid) runs.push(await attempt(method, lr));
    return runs.filter((x) => Number.isFinite(x.loss)).sort((a, b) => a.loss - b.loss)[0];
  };
  const full = await best('full');
  const lora = await best('lora');
  const pro = await best('lora-pro');
  const distance = (traj: Matrix[]) => traj.reduce((acc, W, t) => acc + relativeError(W, full.traj[t]), 0) / traj.length;
  const [dLora, dPro] = [distance(lora.traj), distance(pro.traj)];
  console.log(`# least squares, rank 3 of a full-rank 16×12 target, ${steps} SGD steps, tuned lr:`);
  console.log(`#   full     lr=${full.lr} final loss ${full.loss.toFixed(4)}`);
  console.log(`#   LoRA     lr=${lora.lr} final loss ${lora.loss.toFixed(4)}, mean distance to full trajectory ${dLora.toFixed(4)}`);
  console.log(`#   LoRA-Pro lr=${pro.lr} final loss ${pro.loss.toFixed(4)}, mean distance to full trajectory ${dPro.toFixed(4)}`);
  assert.ok(pro.loss < lora.loss, `LoRA-Pro loss ${pro.loss} is not below LoRA's ${lora.loss}`);
  assert.ok(dPro < dLora, `LoRA-Pro is farther from the full trajectory (${dPro}) than LoRA (${dLora})`);
});

function allOptimizers(rng: Rng): Array<{ opt: Optimizer; grads: () => Map<string, tf.Tensor>; vars: tf.Variable[] }> {
  const out = [];
  const makers: Array<(p: LoraPair, head: tf.Variable) => Optimizer> = [
    (p, h) => new AdamW(new Map([[p.aName, p.A], [p.bName, p.B], ['head', h]]), { lr: 1e-3, weightDecay: 0.01 }),
    (p, h) => new SGD(new Map([[p.aName, p.A], [p.bName, p.B], ['head', h]]), { lr: 1e-3, momentum: 0.9 }),
    (p, h) => createLoraPlus(new Map([[p.aName, p.A], [p.bName, p.B], ['head', h]]), [p], { lr: 1e-3 }),
    (p, h) => new LoraProSGD([p], new Map([['head', h]]), { lr: 1e-3, weightDecay: 0.01 }),
    (p, h) => new LoraProAdamW([p], new Map([['head', h]]), { lr: 1e-3, mode: 'full', weightDecay: 0.01, clipNorm: 1 }),
    (p, h) => new LoraProAdamW([p], new Map([['head', h]]), { lr: 1e-3, mode: 'efficient' }),
  ];
  for (const make of makers) {
    const p = pair(rng, 10, 8, 2, 2);
    const head = tf.variable(randomTensor(rng, [3, 4]), true, `head${Math.random()}`);
    const opt = make(p, head);
    const grads = () => new Map<string, tf.Tensor>([[p.aName, randomTensor(rng, [2, 8])], [p.bName, randomTensor(rng, [10, 2])], ['head', randomTensor(rng, [3, 4])]]);
    out.push({ opt, grads, vars: [p.A, p.B, head] });
  }
  return out;
}

test('every optimiser: steady-state steps leave tf.memory().numTensors unchanged', async () => {
  await useBackend('wasm');
  for (const { opt, grads } of allOptimizers(new Rng(9))) {
    const g = grads();
    await opt.step(g); // the first step creates the state slots
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await opt.step(g);
    assert.equal(tf.memory().numTensors, before, `${opt.name} leaks tensors`);
    tf.dispose([...g.values()]);
    opt.dispose();
  }
});

test('every optimiser: state round-trips, so a restored copy takes the identical next step', async () => {
  await useBackend('cpu');
  const rngA = new Rng(21);
  const rngB = new Rng(21);
  const first = allOptimizers(rngA);
  const second = allOptimizers(rngB); // same seeds: same initial parameters
  for (let k = 0; k < first.length; k++) {
    const a = first[k];
    const b = second[k];
    const g1 = a.grads();
    await a.opt.step(g1);
    await a.opt.step(g1);
    // b: copy a's parameters and state, then both take the same step.
    a.vars.forEach((v, i) => b.vars[i].assign(v));
    const state = a.opt.getState();
    b.opt.setState(state);
    tf.dispose([...state.tensors.values()]);
    const g2 = a.grads();
    await a.opt.step(g2);
    await b.opt.step(g2);
    a.vars.forEach((v, i) => assert.deepEqual(v.dataSync(), b.vars[i].dataSync(), `${a.opt.name}: restored state diverged`));
  }
});

test('non-finite gradients: an error naming the parameter, or a skipped step that leaves everything untouched', async () => {
  await useBackend('cpu');
  const rng = new Rng(4);
  const p = pair(rng, 6, 5, 2, 2);
  const bad = () => new Map<string, tf.Tensor>([[p.aName, tf.fill([2, 5], NaN)], [p.bName, tf.ones([6, 2])]]);
  const strict = new LoraProAdamW([p], new Map(), { lr: 0.1 });
  await assert.rejects(() => strict.step(bad()), /non-finite gradient \(global norm NaN\) in "layer.lora_A.weight"/);
  const lenient = new LoraProAdamW([p], new Map(), { lr: 0.1, onNonFinite: 'skip' });
  const before = [p.A.dataSync().slice(), p.B.dataSync().slice()];
  const res = await lenient.step(bad());
  assert.equal(res.skipped, true);
  assert.deepEqual([p.A.dataSync(), p.B.dataSync()], before);
  assert.equal(lenient.getState().step, 0);
  assert.equal(lenient.getState().tensors.size, 0);
});

test('bad optimiser input names the parameter and the shapes or values', async () => {
  await useBackend('cpu');
  const rng = new Rng(6);
  const p = pair(rng, 6, 5, 2, 2);
  const opt = new AdamW(new Map([[p.aName, p.A]]), { lr: 0.1 });
  await assert.rejects(() => opt.step(new Map([[p.aName, tf.ones([3, 5])]])), /gradient for "layer.lora_A.weight" has shape \[3,5\], parameter has \[2,5\]/);
  await assert.rejects(() => opt.step(new Map()), /no gradient for parameter "layer.lora_A.weight"/);
  await assert.rejects(() => opt.step(new Map([[p.aName, tf.ones([2, 5])], ['x', tf.ones([1])]])), /gradient for unknown parameter "x"/);
  assert.throws(() => new AdamW(new Map(), { lr: -1 }), /lr must be a finite number ≥ 0, got -1/);
  assert.throws(() => new LoraProAdamW([{ ...p, B: tf.variable(tf.ones([6, 3])) as tf.Variable<tf.Rank.R2> }], new Map(), { lr: 0.1 }), /module "layer": B \[6,3\] does not match A \[2,5\]/);
  assert.throws(() => new LoraProAdamW([{ ...p, scale: NaN }], new Map(), { lr: 0.1 }), /module "layer": scale must be > 0, got NaN/);
  assert.throws(() => new LoraProAdamW([p], new Map(), { lr: 0.1, mode: 'fast' as never }), /mode must be "full" or "efficient", got "fast"/);
  await assert.rejects(() => new LoraProSGD([p], new Map(), { lr: 0.1, xMode: 'bad' as never }).step(new Map([[p.aName, tf.ones([2, 5])], [p.bName, tf.ones([6, 2])]])), /xMode must be one of/);
});

test('clipping acts on the raw gradients before the LoRA-Pro adjustment', async () => {
  await useBackend('cpu');
  const rng = new Rng(8);
  const p = pair(rng, 8, 6, 2, 2);
  const gA = randomTensor(rng, [2, 6], 10);
  const gB = randomTensor(rng, [8, 2], 10);
  const raw = Math.sqrt(tf.sum(tf.square(gA)).dataSync()[0] + tf.sum(tf.square(gB)).dataSync()[0]);
  const A0 = p.A.dataSync().slice();
  const expected = await loraProGradients({ A: p.A, B: p.B, gradA: tf.mul(gA, 1 / raw) as tf.Tensor2D, gradB: tf.mul(gB, 1 / raw) as tf.Tensor2D, scale: 2 });
  const opt = new LoraProSGD([p], new Map(), { lr: 1, clipNorm: 1 });
  const res = await opt.step(new Map([[p.aName, gA], [p.bName, gB]]));
  assert.ok(Math.abs(res.gradNorm - raw) < 1e-3 * raw, 'reported norm is the raw norm');
  const moved = Array.from(p.A.dataSync()).map((v, i) => A0[i] - v);
  const want = Array.from(expected.gradA.dataSync());
  moved.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-4 * (1 + Math.abs(want[i])), `A moved by ${v}, expected ${want[i]}`));
});

test('diagnostics: LoRA-Pro is never farther from the full gradient than LoRA', async () => {
  await useBackend('wasm');
  const rng = new Rng(10);
  for (const [m, n, r] of [[16, 12, 2], [20, 20, 5]]) {
    const A = wellConditioned(rng, [r, n]);
    const B = wellConditioned(rng, [m, r]);
    const g = randomTensor(rng, [m, n]);
    const d = await gradientApproximation({ A, B, scale: 2, fullGrad: g });
    assert.ok(d.loraPro.relError <= d.lora.relError + 1e-6);
    assert.ok(d.loraPro.cosine >= d.lora.cosine - 1e-6);
    assert.ok(d.loraPro.cosine > 0 && d.loraPro.cosine <= 1 + 1e-6);
    // LoRA-Pro's g̃ is an orthogonal projection of g: ||g − g̃||² = ||g||² − ||g̃||², so cos = ||g̃||/||g||
    // and relError² + cos² = 1.
    assert.ok(Math.abs(d.loraPro.relError ** 2 + d.loraPro.cosine ** 2 - 1) < 1e-4);
  }
  await assert.rejects(() => gradientApproximation({ A: tf.ones([2, 3]), B: tf.ones([4, 2]), scale: 1, fullGrad: tf.ones([3, 4]) }), /fullGrad must be \[4, 3\]/);
});

test('disposing an optimiser frees all of its state (no initial-value buffers left behind)', async () => {
  await useBackend('wasm');
  const rng = new Rng(31);
  const p = pair(rng, 10, 8, 2, 2);
  const before = tf.memory().numTensors;
  const opt = new LoraProAdamW([p], new Map(), { lr: 1e-3, mode: 'full' });
  const g = new Map<string, tf.Tensor>([[p.aName, randomTensor(rng, [2, 8])], [p.bName, randomTensor(rng, [10, 2])]]);
  await opt.step(g);
  tf.dispose([...g.values()]);
  opt.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test("LoRA-Pro SGD's default damping bounds A's step right after B leaves zero", async () => {
  await useBackend('cpu');
  const rng = new Rng(5);
  const [m, n, r, s] = [16, 12, 4, 2];
  const g = randomTensor(rng, [m, n]);
  const B0 = randomTensor(rng, [m, r], 1e-4); // σ(B) ≈ 4e-4: one small SGD step away from zero
  const A0 = wellConditioned(rng, [r, n]);
  const stepOfA = async (damping?: number): Promise<number> => {
    const A = tf.variable(A0, true, `A${Math.random()}`) as tf.Variable<tf.Rank.R2>;
    const B = tf.variable(B0, true, `B${Math.random()}`) as tf.Variable<tf.Rank.R2>;
    const p: LoraPair = { module: 'layer', aName: 'layer.lora_A.weight', bName: 'layer.lora_B.weight', A, B, scale: s };
    const { gradA, gradB } = loraGradsFromFull(p.A, p.B, g, s);
    await new LoraProSGD([p], new Map(), { lr: 1, damping }).step(new Map([[p.aName, gradA], [p.bName, gradB]]));
    const size = tf.tidy(() => tf.norm(tf.sub(p.A, A0)).dataSync()[0]);
    tf.dispose([p.A, p.B]);
    return size;
  };
  // A's step has (1/s)·(BᵀB + δI)⁻¹·Bᵀ·g in it, whose size is at most |g|/(2s√δ): 5·|g|/s at δ = 1e-2,
  // 5,000·|g|/s at the official code's 1e-8, where σ ≈ 4e-4 puts it near 1/(sσ)·|g|.
  const gNorm = tf.tidy(() => tf.norm(g).dataSync()[0]);
  const damped = await stepOfA();
  const official = await stepOfA(1e-8);
  assert.ok(damped <= gNorm / (2 * s * Math.sqrt(LORA_PRO_SGD_DAMPING)), `damped step ${damped} vs |g| ${gNorm}`);
  assert.ok(official > 1000 * damped, `official δ step ${official} vs damped ${damped}`); // measured: 6,871 vs 0.11
});
