import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { Rng } from '../math/rng.js';
import { Module } from '../models/module.js';
import { Linear } from '../models/linear.js';
import { InputFileError } from '../io/input-error.js';
import { readSafetensors, serializeSafetensors } from '../io/safetensors.js';
import { loraConfig, loraScale } from './lora-config.js';
import { LoraLinear } from './lora-linear.js';
import { injectLora, loraPairs, mergeAndUnload, selectTargets, setMerged } from './inject.js';
import { loadAdapter, saveAdapter } from './peft-files.js';

/** A module whose children are looked up by name at call time, so replacing one needs no bookkeeping. */
class Node extends Module {
  constructor(children: Record<string, Module>) {
    super();
    for (const [k, v] of Object.entries(children)) this.child(k, v);
  }
  protected override onChildReplaced(): void {}
  at(name: string): Module {
    return this.children().get(name)!;
  }
}

const D = 8;
function linear(rng: Rng, inF = D, out = D, bias = true): Linear {
  const l = new Linear(inF, out, { rng, std: 0.3, bias });
  if (l.bias) l.bias.assign(tf.tensor1d(rng.normalArray(out, 0.1)));
  return l;
}

/** A Llama-shaped toy: model.layers.{0,1}.self_attn.{q,k,v,o}_proj, mlp.down_proj, lm_head, score. */
function toy(seed = 1): Node & { run(x: tf.Tensor2D): tf.Tensor2D } {
  const rng = new Rng(seed);
  const layer = () => new Node({ self_attn: new Node({ q_proj: linear(rng), k_proj: linear(rng), v_proj: linear(rng), o_proj: linear(rng) }), mlp: new Node({ down_proj: linear(rng, D, D, false) }) });
  const root = new Node({ model: new Node({ layers: new Node({ 0: layer(), 1: layer() }) }), lm_head: linear(rng, D, 5, false), score: linear(rng, D, 3, false) }) as Node & { run(x: tf.Tensor2D): tf.Tensor2D };
  const lin = (path: string) => path.split('.').reduce<Module>((m, p) => (m as Node).at(p), root) as Linear | LoraLinear;
  root.run = (x) =>
    tf.tidy(() => {
      let h: tf.Tensor = x;
      for (const i of ['0', '1']) {
        for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) h = tf.tanh(lin(`model.layers.${i}.self_attn.${p}`).forward(h));
        h = lin(`model.layers.${i}.mlp.down_proj`).forward(h);
      }
      return tf.concat([lin('lm_head').forward(h), lin('score').forward(h)], 1) as tf.Tensor2D;
    });
  return root;
}

const input = () => tf.tensor2d(new Rng(99).normalArray(4 * D), [4, D]);
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

/** Gives every B a non-zero value so that adapters actually change the output. */
function perturb(model: Module, seed = 5): void {
  const rng = new Rng(seed);
  for (const p of loraPairs(model)) p.B.assign(tf.tensor2d(rng.normalArray(p.B.size, 0.2), p.B.shape));
}

test('LoraLinear computes x·W0ᵀ + b + s·x·Aᵀ·Bᵀ; merge, unmerge and safe merge', async () => {
  await useBackend('wasm');
  const rng = new Rng(2);
  const base = linear(rng, 6, 5);
  const x = tf.tensor3d(rng.normalArray(2 * 3 * 6), [2, 3, 6]);
  const y0 = base.forward(x);
  const lora = new LoraLinear(base, { r: 2, alpha: 6, dropout: 0, useRslora: false, init: true, rng });
  assert.equal(lora.scale, 3);
  assert.equal(maxAbsDiff(lora.forward(x), y0), 0, 'a fresh adapter (B = 0) must not change the output');
  const bound = 1 / Math.sqrt(6);
  assert.ok(lora.A.dataSync().every((v) => Math.abs(v) <= bound), 'A exceeds the kaiming-uniform bound 1/sqrt(in)');
  lora.B.assign(tf.tensor2d(rng.normalArray(10, 0.5), [5, 2]));
  // Independent route: the merged weight W0 + s·B·A applied as a plain linear layer.
  const W = tf.add(base.weight, tf.mul(tf.matMul(lora.B, lora.A), 3));
  const expected = tf.add(tf.reshape(tf.matMul(tf.reshape(x, [6, 6]), W, false, true), [2, 3, 5]), base.bias!);
  const unmerged = lora.forward(x);
  assert.ok(maxAbsDiff(unmerged, expected) < 1e-5);
  lora.merge(true);
  assert.ok(maxAbsDiff(lora.forward(x), unmerged) < 1e-5, 'merged output differs from unmerged');
  lora.unmerge();
  assert.ok(maxAbsDiff(lora.forward(x), unmerged) < 1e-5, 'unmerge did not restore');
  lora.B.assign(tf.fill([5, 2], Infinity) as tf.Tensor2D);
  const w0 = base.weight.dataSync().slice();
  assert.throws(() => lora.merge(true), /safe merge refused: W0 \+ s·B·A has non-finite values/);
  assert.deepEqual(base.weight.dataSync(), w0, 'a refused merge changed W0');
  assert.throws(() => new LoraLinear(linear(rng, 4, 3), { r: 4, alpha: 8, dropout: 0, useRslora: false, init: true, rng }), /LoRA rank 4 exceeds min\(out, in\) = 3/);
  assert.equal(loraScale(16, 16, true), 4);
  const g = new LoraLinear(linear(rng, 64, 64), { r: 4, alpha: 4, dropout: 0, useRslora: false, init: 'gaussian', rng });
  const std = Math.sqrt(tf.moments(g.A).variance.dataSync()[0]);
  assert.ok(Math.abs(std - 0.25) < 0.03, `gaussian init std ${std}, expected 1/r = 0.25`);
});

test('target selection follows PEFT: names and suffixes, regex, all-linear, exclusions, layers, patterns', async () => {
  await useBackend('cpu');
  const m = toy();
  const sel = (o: Parameters<typeof loraConfig>[0]) => selectTargets(m, loraConfig(o));
  assert.deepEqual(sel({ targetModules: ['q_proj', 'v_proj'] }), ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
  assert.deepEqual(sel({ targetModules: ['model.layers.1.self_attn.k_proj'] }), ['model.layers.1.self_attn.k_proj']);
  assert.deepEqual(sel({ targetModules: ['proj'] }), [], 'a suffix matches whole path components only');
  assert.deepEqual(sel({ targetModules: '.*\\.0\\..*_proj' }), ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.k_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.0.self_attn.o_proj', 'model.layers.0.mlp.down_proj']);
  assert.deepEqual(sel({ targetModules: 'q_proj' }), [], 'a regex string must match the whole path');
  const all = sel({ targetModules: 'all-linear' });
  assert.equal(all.length, 10);
  assert.ok(!all.includes('lm_head') && !all.includes('score'), 'all-linear must skip the output heads');
  assert.deepEqual(sel({ targetModules: ['q_proj'], excludeModules: ['model.layers.0.self_attn.q_proj'] }), ['model.layers.1.self_attn.q_proj']);
  assert.deepEqual(sel({ targetModules: ['q_proj'], layersToTransform: [1] }), ['model.layers.1.self_attn.q_proj']);
  assert.deepEqual(sel({ targetModules: ['q_proj'], layersToTransform: [0], layersPattern: ['layers'] }), ['model.layers.0.self_attn.q_proj']);
  const pairs = injectLora(m, loraConfig({ r: 2, loraAlpha: 4, targetModules: ['q_proj', 'o_proj'], rankPattern: { 'layers.1.self_attn.q_proj': 4 }, alphaPattern: { o_proj: 12 } }));
  const byModule = new Map(pairs.map((p) => [p.module, p]));
  assert.equal(byModule.get('model.layers.1.self_attn.q_proj')!.A.shape[0], 4);
  assert.equal(byModule.get('model.layers.0.self_attn.q_proj')!.A.shape[0], 2);
  assert.equal(byModule.get('model.layers.0.self_attn.o_proj')!.scale, 6);
  assert.equal(byModule.get('model.layers.0.self_attn.q_proj')!.aName, 'model.layers.0.self_attn.q_proj.lora_A.weight');
});

test('injection freezes the base, trains A, B and modules_to_save, and refuses what matches nothing', async () => {
  await useBackend('cpu');
  const m = toy();
  injectLora(m, loraConfig({ targetModules: ['q_proj'], r: 2, modulesToSave: ['score'] }));
  const trainable = [...m.trainableParameters().keys()].sort();
  assert.deepEqual(trainable, [
    'model.layers.0.self_attn.q_proj.lora_A.weight', 'model.layers.0.self_attn.q_proj.lora_B.weight',
    'model.layers.1.self_attn.q_proj.lora_A.weight', 'model.layers.1.self_attn.q_proj.lora_B.weight',
    'score.weight',
  ]);
  assert.throws(() => injectLora(toy(), loraConfig({ targetModules: ['c_attn'] })), /target modules \["c_attn"\] match no linear layer; available: model\.layers\.\*\.self_attn\.q_proj/);
  assert.throws(() => injectLora(toy(), loraConfig({ targetModules: ['q_proj'], modulesToSave: ['classifier'] })), /modules_to_save "classifier" matches no module/);
  assert.throws(() => injectLora(toy(), loraConfig({ targetModules: ['q_proj'], r: 9 })), /cannot adapt "model.layers.0.self_attn.q_proj": LoRA rank 9 exceeds min\(out, in\) = 8/);
  assert.throws(() => loraConfig({ targetModules: ['q'], r: 0 }), /LoraConfig.r must be a positive integer, got 0/);
  assert.throws(() => loraConfig({ targetModules: '([' }), /LoraConfig.targetModules is not a valid regular expression/);
});

test('a fresh adapter leaves outputs unchanged; merged equals unmerged; mergeAndUnload restores plain layers', async () => {
  await useBackend('wasm');
  const m = toy();
  const x = input();
  const before = m.run(x);
  injectLora(m, loraConfig({ targetModules: 'all-linear', r: 2, loraAlpha: 4 }));
  assert.equal(maxAbsDiff(m.run(x), before), 0);
  perturb(m);
  const unmerged = m.run(x);
  assert.ok(maxAbsDiff(unmerged, before) > 1e-3, 'perturbed adapters should change the output');
  setMerged(m, true);
  assert.ok(maxAbsDiff(m.run(x), unmerged) < 1e-5);
  setMerged(m, false);
  mergeAndUnload(m);
  assert.ok(maxAbsDiff(m.run(x), unmerged) < 1e-5);
  assert.deepEqual([...m.namedParameters().keys()].filter((k) => k.includes('lora') || k.includes('base_layer')), []);
});

test('saveAdapter writes PEFT names, shapes, dtype and config keys; loadAdapter reproduces the outputs exactly', async () => {
  await useBackend('wasm');
  const dir = await mkdtemp(join(tmpdir(), 'lorapro-adapter-'));
  try {
    const m = toy();
    injectLora(m, loraConfig({ targetModules: ['q_proj', 'v_proj'], r: 2, loraAlpha: 16, loraDropout: 0.05, modulesToSave: ['score'], taskType: 'CAUSAL_LM' }));
    perturb(m);
    const x = input();
    const trained = m.run(x);
    await saveAdapter(m, dir, { baseModelNameOrPath: 'toy/base' });
    const file = await readSafetensors(join(dir, 'adapter_model.safetensors'));
    // PEFT's get_peft_model_state_dict: "base_model.model.<module>.lora_A.weight" [r, in],
    // "….lora_B.weight" [out, r], modules_to_save as "base_model.model.<module>.<param>".
    const keys = [...file.tensors.keys()].sort();
    assert.deepEqual(keys, [
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight',
      'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight', 'base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight',
      'base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight', 'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight',
      'base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight', 'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight',
      'base_model.model.score.weight',
    ]);
    assert.deepEqual(file.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')!.shape, [2, D]);
    assert.deepEqual(file.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight')!.shape, [D, 2]);
    assert.ok([...file.tensors.values()].every((t) => t.dtype === 'F32'));
    assert.equal(file.metadata.format, 'pt');
    const cfg = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
    for (const [k, v] of Object.entries({ peft_type: 'LORA', r: 2, lora_alpha: 16, lora_dropout: 0.05, task_type: 'CAUSAL_LM', bias: 'none', fan_in_fan_out: false, use_rslora: false, use_dora: false, init_lora_weights: true, base_model_name_or_path: 'toy/base', inference_mode: true })) {
      assert.deepEqual(cfg[k], v, `adapter_config.json "${k}"`);
    }
    assert.deepEqual(cfg.target_modules, ['q_proj', 'v_proj']);
    assert.deepEqual(cfg.modules_to_save, ['score']);
    for (const k of ['rank_pattern', 'alpha_pattern', 'layers_to_transform', 'layers_pattern', 'revision', 'megatron_config']) assert.ok(k in cfg, `adapter_config.json lacks "${k}"`);

    const fresh = toy();
    await loadAdapter(fresh, dir);
    assert.equal(maxAbsDiff(fresh.run(x), trained), 0, 'save → load must reproduce the outputs exactly');

    // Unknown config keys are ignored; missing required ones are named.
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify({ ...cfg, some_future_key: 1 }));
    await loadAdapter(toy(), dir);
    const { r: _r, ...noRank } = cfg;
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify(noRank));
    await assert.rejects(loadAdapter(toy(), dir), /adapter_config.json: missing required key\(s\) "r"/);
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify(cfg));

    // Missing, unexpected and mis-shaped tensors are reported together.
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [k, t] of file.tensors) tensors[k] = { shape: t.shape, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) };
    delete tensors['base_model.model.score.weight'];
    tensors['base_model.model.extra.lora_A.weight'] = { shape: [1], data: new Float32Array(1) };
    tensors['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'] = { shape: [3, D], data: new Float32Array(3 * D) };
    await writeFile(join(dir, 'adapter_model.safetensors'), serializeSafetensors(tensors));
    await assert.rejects(loadAdapter(toy(), dir), (e: Error) => {
      assert.ok(e instanceof InputFileError, 'an adapter that does not fit is bad input');
      assert.match(e.message, /adapter_model\.safetensors does not match the model:\n/);
      assert.match(e.message, /\n {2}missing 1:\n {4}score\.weight\n/);
      assert.match(e.message, /\n {2}unexpected 1:\n {4}base_model\.model\.extra\.lora_A\.weight\n/);
      assert.match(e.message, /\n {2}mis-shaped 1:\n {4}model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight \[3,8\] \(model \[2,8\]\)$/);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
