// DoRA, PiSSA / OLoRA / LoRA-GA inits and their save formats, on a toy two-layer model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { Rng } from '../math/rng.js';
import { Module, getModule } from '../models/module.js';
import { Linear } from '../models/linear.js';
import { readSafetensors } from '../io/safetensors.js';
import { loraConfig, type InitLoraWeights, type LoraConfig } from './lora-config.js';
import { LoraLinear } from './lora-linear.js';
import { injectLora, loraPairs, mergeAndUnload } from './inject.js';
import { estimateLoraGaGradients } from './lora-ga.js';
import { loadAdapter, saveAdapter } from './peft-files.js';
import { loraConfigFromJson } from './peft-format.js';

await useBackend('cpu');

class Node extends Module {
  constructor(children: Record<string, Module>) {
    super();
    for (const [k, v] of Object.entries(children)) this.child(k, v);
  }
  protected override onChildReplaced(): void {}
}

const IN = 8;
const OUT = 6;
function linear(rng: Rng, inF: number, out: number): Linear {
  const l = new Linear(inF, out, { rng, std: 0.4 });
  l.bias!.assign(tf.tensor1d(rng.normalArray(out, 0.1)));
  return l;
}

/** model.{up [6, 8], down [8, 6]}: x → tanh(up x) → down. */
function toy(seed = 1): Node & { run(x: tf.Tensor2D): tf.Tensor2D } {
  const rng = new Rng(seed);
  const root = new Node({ model: new Node({ up: linear(rng, IN, OUT), down: linear(rng, OUT, IN) }) }) as Node & { run(x: tf.Tensor2D): tf.Tensor2D };
  const lin = (p: string) => getModule(root, `model.${p}`) as Linear | LoraLinear;
  root.run = (x) => tf.tidy(() => lin('down').forward(tf.tanh(lin('up').forward(x))) as tf.Tensor2D);
  return root;
}

const input = () => tf.tensor2d(new Rng(99).normalArray(5 * IN), [5, IN]);
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
const config = (over: Partial<LoraConfig> = {}) => loraConfig({ r: 2, loraAlpha: 4, targetModules: ['up', 'down'], ...over });
const rows = (t: tf.Tensor2D): number[][] => t.arraySync();

/** Moves every trainable adapter tensor a little, as training would. */
function perturb(model: Module, seed = 5): void {
  const rng = new Rng(seed);
  for (const [, v] of model.trainableParameters()) v.assign(tf.add(v, tf.tensor(rng.normalArray(v.size, 0.2), v.shape)));
}

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'lorapro-peft-methods-'));
}

test('DoRA: m starts at ‖W0‖ per row (a fresh adapter changes nothing); output = m/‖W0 + s·B·A‖·(W0 + s·B·A)·x + b', () => {
  const rng = new Rng(3);
  const base = linear(rng, IN, OUT);
  const w0 = rows(base.weight);
  const x = input();
  const y0 = base.forward(x);
  const dora = new LoraLinear(base, { r: 2, alpha: 4, dropout: 0, useRslora: false, init: true, rng, useDora: true });
  // independent route: row norms by hand
  const norms = w0.map((r) => Math.hypot(...r));
  dora.magnitude!.dataSync().forEach((v, i) => assert.ok(Math.abs(v - norms[i]) < 1e-5, `m[${i}] ${v} vs ${norms[i]}`));
  assert.ok(maxAbsDiff(dora.forward(x), y0) < 1e-5);
  dora.B.assign(tf.tensor2d(rng.normalArray(OUT * 2, 0.5), [OUT, 2]));
  dora.magnitude!.assign(tf.tensor1d(rng.uniformArray(OUT, 0.5, 2)));
  // W' = diag(m / ‖W0 + s·B·A‖)·(W0 + s·B·A), applied as a plain linear layer
  const expected = tf.tidy(() => {
    const w = tf.add(base.weight, tf.mul(tf.matMul(dora.B, dora.A), 2));
    const n = tf.sqrt(tf.sum(tf.square(w), 1, true)); // [out, 1]
    const wp = tf.mul(tf.div(w, n), tf.reshape(dora.magnitude!, [-1, 1]));
    return tf.add(tf.matMul(x, wp, false, true), base.bias!);
  });
  assert.ok(maxAbsDiff(dora.forward(x), expected) < 1e-5);
  dora.merge(true);
  assert.ok(maxAbsDiff(dora.forward(x), expected) < 1e-5, 'merged equals unmerged');
  dora.unmerge();
  assert.ok(maxAbsDiff(base.weight, tf.tensor2d(w0)) < 1e-5, 'unmerge restores W0');
});

test('DoRA: the norm is detached from autodiff (gradients as with m/‖·‖ a constant)', () => {
  const rng = new Rng(4);
  const base = linear(rng, IN, OUT);
  const dora = new LoraLinear(base, { r: 2, alpha: 4, dropout: 0, useRslora: false, init: true, rng, useDora: true });
  dora.B.assign(tf.tensor2d(rng.normalArray(OUT * 2, 0.5), [OUT, 2]));
  const x = input();
  const target = tf.tensor2d(rng.normalArray(5 * OUT), [5, OUT]);
  const loss = (y: tf.Tensor) => tf.sum(tf.square(tf.sub(y, target))) as tf.Scalar;
  const got = tf.variableGrads(() => loss(dora.forward(x)), [dora.A, dora.B]).grads;
  // reference: c = m/‖W0 + s·B·A‖ frozen as a number array, y = x·W0ᵀ + b + (c − 1)·x·W0ᵀ + c·s·x·Aᵀ·Bᵀ
  const c = tf.tensor1d(Float32Array.from(tf.tidy(() => tf.div(dora.magnitude!, dora.weightNorm())).dataSync()));
  const ref = tf.variableGrads(() => {
    const bx = tf.matMul(x, base.weight, false, true);
    const lora = tf.matMul(tf.matMul(x, dora.A, false, true), dora.B, false, true);
    return loss(tf.add(tf.add(tf.add(bx, base.bias!), tf.mul(bx, tf.sub(c, 1))), tf.mul(tf.mul(lora, c), 2)));
  }, [dora.A, dora.B]).grads;
  for (const v of [dora.A, dora.B]) assert.ok(maxAbsDiff(got[v.name], ref[v.name]) < 1e-4, `gradient of ${v.name}`);
});

test('DoRA adapter: PEFT names (…lora_magnitude_vector, ".weight" stripped) and use_dora; save → load reproduces outputs', async () => {
  const model = toy();
  injectLora(model, config({ useDora: true }));
  perturb(model);
  const x = input();
  const want = model.run(x);
  const dir = await tempDir();
  try {
    await saveAdapter(model, dir);
    // get_peft_model_state_dict (src/peft/utils/save_and_load.py): `lora_magnitude_vector.default.weight`
    // loses ".weight" (renamed_dora_weights), then the adapter name
    const file = await readSafetensors(join(dir, 'adapter_model.safetensors'));
    assert.deepEqual([...file.tensors.keys()].filter((k) => k.includes('magnitude')).sort(), ['base_model.model.model.down.lora_magnitude_vector', 'base_model.model.model.up.lora_magnitude_vector']);
    assert.deepEqual(file.tensors.get('base_model.model.model.up.lora_magnitude_vector')!.shape, [OUT]);
    const json = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
    assert.equal(json.use_dora, true); // LoraConfig.use_dora (src/peft/tuners/lora/config.py)
    const fresh = toy();
    await loadAdapter(fresh, dir);
    assert.equal(maxAbsDiff(fresh.run(x), want), 0, 'loaded outputs are the saved ones');
    mergeAndUnload(fresh);
    assert.ok(maxAbsDiff(fresh.run(x), want) < 1e-5, 'merged DoRA equals the adapter');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** PiSSA / OLoRA: the residual base plus the fresh adapter is the original model. */
for (const init of ['pissa', 'pissa_niter_4', 'olora'] as const) {
  test(`init ${init}: adjusted base + adapter == original model; the base holds the residual`, () => {
    const model = toy();
    const x = input();
    const y0 = model.run(x);
    const w0 = tf.clone((getModule(model, 'model.up') as Linear).weight);
    injectLora(model, config({ initLoraWeights: init }));
    assert.ok(maxAbsDiff(model.run(x), y0) < 1e-5);
    const up = getModule(model, 'model.up') as LoraLinear;
    assert.ok(maxAbsDiff(up.baseWeight, w0) > 1e-2, 'the base weight was rewritten');
    assert.ok(maxAbsDiff(tf.add(up.baseWeight, up.deltaWeight()), w0) < 1e-5, 'W_res + s·B·A = W');
    assert.ok(up.initialFactors, 'A0, B0 kept for the converted save');
  });
}

test('PiSSA: s·B·A is the top-r part of W (Bᵀ·W_res = 0, W_res·Aᵀ = 0, AAᵀ = BᵀB = diag(σ/s)); OLoRA: B orthonormal, A upper', () => {
  const model = toy();
  const w = (getModule(model, 'model.up') as Linear).weight;
  // independent SVD (ml-matrix directly) for the top singular values
  const sigma = new SingularValueDecomposition(new Matrix(rows(w)), { autoTranspose: true }).diagonal.sort((a, b) => b - a);
  injectLora(model, config({ initLoraWeights: 'pissa' }));
  const up = getModule(model, 'model.up') as LoraLinear;
  assert.ok(tf.tidy(() => tf.max(tf.abs(tf.matMul(up.B, up.baseWeight, true))).dataSync()[0]) < 1e-5);
  assert.ok(tf.tidy(() => tf.max(tf.abs(tf.matMul(up.baseWeight, up.A, false, true))).dataSync()[0]) < 1e-5);
  const aat = rows(tf.matMul(up.A, up.A, false, true) as tf.Tensor2D);
  const btb = rows(tf.matMul(up.B, up.B, true) as tf.Tensor2D);
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 2; j++) {
      const want = i === j ? sigma[i] / up.scale : 0;
      assert.ok(Math.abs(aat[i][j] - want) < 1e-4 && Math.abs(btb[i][j] - want) < 1e-4, `AAᵀ/BᵀB[${i}][${j}] vs ${want}`);
    }
  }
  const olora = toy();
  injectLora(olora, config({ initLoraWeights: 'olora' }));
  const o = getModule(olora, 'model.up') as LoraLinear;
  const qtq = rows(tf.matMul(o.B, o.B, true) as tf.Tensor2D);
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) assert.ok(Math.abs(qtq[i][j] - (i === j ? 1 : 0)) < 1e-5);
  assert.equal(rows(o.A)[1][0], 0, 'A = R[:r] is upper triangular');
  // PEFT's olora_init does not divide by s: W_res = W − s·Qᵣ·Rᵣ, so Qᵣᵀ·W_res = Rᵣ − s·Rᵣ = (1 − s)·A
  assert.ok(maxAbsDiff(tf.matMul(o.B, o.baseWeight, true), tf.mul(o.A, 1 - o.scale)) < 1e-5, 'Qᵣᵀ·W_res = (1 − s)·Rᵣ');
});

test('a PiSSA adapter saves converted for the original base (PEFT: r, alpha, patterns ×2, [A; A0], [B, −B0]); raw saves reload by redoing the init', async () => {
  const x = input();
  const model = toy();
  const original = model.run(x);
  injectLora(model, config({ initLoraWeights: 'pissa', rankPattern: { down: 3 }, alphaPattern: { down: 6 } }));
  perturb(model);
  const trained = model.run(x);
  assert.ok(maxAbsDiff(trained, original) > 1e-2);
  const dir = await tempDir();
  try {
    await saveAdapter(model, join(dir, 'converted'));
    const json = JSON.parse(await readFile(join(dir, 'converted', 'adapter_config.json'), 'utf8'));
    // save_pretrained(path_initial_model_for_weight_conversion=…) in src/peft/peft_model.py
    assert.deepEqual([json.r, json.lora_alpha, json.rank_pattern, json.alpha_pattern, json.init_lora_weights], [4, 8, { down: 6 }, { down: 12 }, true]);
    const file = await readSafetensors(join(dir, 'converted', 'adapter_model.safetensors'));
    assert.deepEqual(file.tensors.get('base_model.model.model.up.lora_A.weight')!.shape, [4, IN]);
    assert.deepEqual(file.tensors.get('base_model.model.model.down.lora_B.weight')!.shape, [IN, 6]);
    const onOriginal = toy();
    await loadAdapter(onOriginal, join(dir, 'converted'));
    assert.ok(maxAbsDiff(onOriginal.run(x), trained) < 1e-5, 'the converted adapter on the original base is the trained model');

    await saveAdapter(model, join(dir, 'raw'), { raw: true });
    const rawJson = JSON.parse(await readFile(join(dir, 'raw', 'adapter_config.json'), 'utf8'));
    assert.deepEqual([rawJson.r, rawJson.init_lora_weights], [2, 'pissa']);
    const again = toy();
    await loadAdapter(again, join(dir, 'raw'));
    assert.ok(maxAbsDiff(again.run(x), trained) < 1e-5, 'a raw PiSSA adapter reloads by recomputing the residual');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an OLoRA adapter with rsLoRA converts alpha by √2 (PEFT keeps alpha/√r); with patterns it is refused as in PEFT', async () => {
  const x = input();
  const model = toy();
  injectLora(model, config({ initLoraWeights: 'olora', useRslora: true }));
  perturb(model);
  const trained = model.run(x);
  const dir = await tempDir();
  try {
    await saveAdapter(model, dir);
    const json = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
    assert.ok(Math.abs(json.lora_alpha - 4 * Math.SQRT2) < 1e-12);
    const onOriginal = toy();
    await loadAdapter(onOriginal, dir);
    assert.ok(maxAbsDiff(onOriginal.run(x), trained) < 1e-5);
    const patterned = toy();
    injectLora(patterned, config({ initLoraWeights: 'olora', useRslora: true, rankPattern: { up: 1 } }));
    await assert.rejects(saveAdapter(patterned, join(dir, 'p')), /rsLoRA and rank_pattern\/alpha_pattern is not supported/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('LoRA-GA: gradient pass on the plain model, A = c·V[:, :r]ᵀ, B = c·U[:, r:2r] (c = ∜out/√16), base adjusted; saves converted', async () => {
  const x = input();
  const target = tf.tensor2d(new Rng(8).normalArray(5 * IN), [5, IN]);
  const model = toy();
  const original = model.run(x);
  const cfg = config({ initLoraWeights: 'lora_ga' });
  const lossOf = (m: typeof model) => () => tf.sum(tf.square(tf.sub(m.run(x), target))) as tf.Scalar;
  assert.throws(() => injectLora(toy(), cfg), /init "lora_ga" needs each target layer's estimated gradient/);
  assert.throws(() => estimateLoraGaGradients(toy(), cfg, []), /needs at least one training batch/);
  const gradients = estimateLoraGaGradients(model, cfg, [lossOf(model), lossOf(model)]);
  // the mean of two identical batches is the gradient of one: compare with a direct gradient
  const up0 = (getModule(model, 'model.up') as Linear).weight;
  up0.trainable = true;
  const direct = tf.variableGrads(lossOf(model), [up0]).grads[up0.name];
  up0.trainable = false;
  assert.ok(maxAbsDiff(gradients.get('model.up')!, direct) < 1e-5);
  const sigma = new SingularValueDecomposition(new Matrix(rows(direct as tf.Tensor2D)), { autoTranspose: true }).diagonal.sort((a, b) => b - a);
  injectLora(model, cfg, { gradients });
  tf.dispose([...gradients.values()]);
  assert.ok(maxAbsDiff(model.run(x), original) < 1e-5, 'the model is unchanged at the start');
  const up = getModule(model, 'model.up') as LoraLinear;
  const c = OUT ** 0.25 / 4;
  // ‖G·Aᵀ‖ = c·√(σ1² + σ2²) and ‖Bᵀ·G‖ = c·√(σ3² + σ4²)
  const fro = (t: tf.Tensor) => tf.tidy(() => Math.sqrt(tf.sum(tf.square(t)).dataSync()[0]));
  assert.ok(Math.abs(fro(tf.matMul(direct, up.A, false, true)) - c * Math.hypot(sigma[0], sigma[1])) < 1e-4);
  assert.ok(Math.abs(fro(tf.matMul(up.B, direct, true)) - c * Math.hypot(sigma[2], sigma[3])) < 1e-4);
  perturb(model);
  const trained = model.run(x);
  const dir = await tempDir();
  try {
    await saveAdapter(model, dir);
    const onOriginal = toy();
    await loadAdapter(onOriginal, dir);
    assert.ok(maxAbsDiff(onOriginal.run(x), trained) < 1e-5);
    await saveAdapter(model, join(dir, 'raw'), { raw: true });
    await assert.rejects(loadAdapter(toy(), join(dir, 'raw')), /a raw LoRA-GA adapter cannot be rebuilt from the base alone/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('init and DoRA config errors name the value', () => {
  assert.throws(() => config({ initLoraWeights: 'pissa_niter_x' as InitLoraWeights }), /initLoraWeights must be .*"pissa_niter_K".*got "pissa_niter_x"/);
  assert.throws(() => config({ useDora: true, initLoraWeights: 'pissa' }), /DoRA with initLoraWeights "pissa" is not supported/);
  assert.equal(loraPairs(toy()).length, 0);
  // adapter_config.json: PEFT's init strings pass through; inits that rewrote the base in ways not redone here are refused
  const json = (init: unknown) => ({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['up'], init_lora_weights: init, use_dora: false });
  assert.equal(loraConfigFromJson(json('pissa_niter_16'), 'a.json').initLoraWeights, 'pissa_niter_16');
  assert.equal(loraConfigFromJson(json('eva'), 'a.json').initLoraWeights, true);
  assert.throws(() => loraConfigFromJson(json('loftq'), 'a.json'), /a\.json: "init_lora_weights": "loftq" is not supported/);
  assert.throws(() => loraConfigFromJson({ ...json(true), use_dora: 'yes' }, 'a.json'), /"use_dora" must be true or false/);
});
