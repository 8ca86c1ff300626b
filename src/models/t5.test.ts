// T5: the two fixture checkpoints reproduce the independent PyTorch reference (logits and loss,
// scripts/parity/make_fixtures.py), generation with the cache equals generation without, the
// text-to-text classifier scores labels by their targets' log-likelihood, and bad configs are named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { modelConfigToJson, parseModelConfig, type T5Config } from '../io/hf-config.js';
import { parseSafetensors } from '../io/safetensors.js';
import { createModel } from './auto.js';
import { generateSeq2Seq } from './generate-seq2seq.js';
import { randomInit } from './layers.js';
import { loadPretrained, loadSeq2SeqLM, savePretrained } from './pretrained.js';
import { T5ForConditionalGeneration } from './t5.js';
import { T5ForTextToTextClassification, labelTargets } from './t5-classifier.js';
import { relativePositionBucket } from './t5-layers.js';
import { assertClose, fixtureDir, int2d } from './testing.js';

const T5_FIXTURES = ['t5-v1_0-tied', 't5-v1_1-gated'] as const;

interface T5Expected {
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
  decoder_input_ids: number[][];
  logits: number[][][];
  loss: number;
}

const readT5 = (name: string): T5Expected => JSON.parse(readFileSync(join(fixtureDir(name), 'expected.json'), 'utf8')) as T5Expected;

for (const backend of ['wasm', 'cpu']) {
  for (const name of T5_FIXTURES) {
    test(`${name} logits and loss match the PyTorch reference on ${backend}`, async () => {
      await useBackend(backend);
      const exp = readT5(name);
      const model = await loadSeq2SeqLM(fixtureDir(name));
      const before = tf.memory().numTensors;
      try {
        const [ids, mask, labels, decIds] = [exp.input_ids, exp.attention_mask, exp.labels, exp.decoder_input_ids].map(int2d);
        const logits = model.seq2seqLogits(ids, mask, decIds);
        assertClose(await logits.data(), exp.logits.flat(2), 1e-4, `${name} logits`);
        const loss = model.loss(ids, mask, labels);
        assertClose(await loss.data(), [exp.loss], 1e-4, `${name} loss`);
        tf.dispose([ids, mask, labels, decIds, logits, loss]);
        assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
      } finally {
        model.dispose();
      }
    });
  }
}

test('relative position buckets follow _relative_position_bucket (worked by hand)', () => {
  // bidirectional, 32 buckets → 16 per direction, 8 exact; later keys (rel > 0) offset by 16
  assert.equal(relativePositionBucket(0, true, 32, 128), 0);
  assert.equal(relativePositionBucket(-1, true, 32, 128), 1);
  assert.equal(relativePositionBucket(1, true, 32, 128), 17);
  assert.equal(relativePositionBucket(-7, true, 32, 128), 7);
  assert.equal(relativePositionBucket(-8, true, 32, 128), 8); // 8 + trunc(log(8/8)/log(128/8)·8) = 8
  assert.equal(relativePositionBucket(20, true, 32, 128), 26); // 16 + 8 + trunc(log(2.5)/log(16)·8 = 2.64)
  assert.equal(relativePositionBucket(-128, true, 32, 128), 15); // 8 + 8 = 16, capped at 15
  // causal: 32 buckets, 16 exact, later keys all in bucket 0
  assert.equal(relativePositionBucket(5, false, 32, 128), 0);
  assert.equal(relativePositionBucket(-20, false, 32, 128), 17); // 16 + trunc(log(20/16)/log(8)·16 = 1.72)
});

test('a T5 folder loads as a text-to-text classifier, skipping the checkpoint copies of `shared`', async () => {
  await useBackend('wasm');
  const warnings: string[] = [];
  const model = await loadPretrained(fixtureDir('t5-v1_0-tied'), { onWarning: (m) => warnings.push(m) });
  try {
    assert.deepEqual(warnings, []);
    assert.equal(model.task, 'sequence-classification');
    assert.ok(model instanceof T5ForTextToTextClassification);
    assert.ok(!model.namedParameters().has('lm_head.weight'), 'tied: no lm_head parameter');
  } finally {
    model.dispose();
  }
});

function tinyT5(over: Record<string, unknown> = {}): T5Config {
  const raw = { model_type: 't5', vocab_size: 30, d_model: 16, d_kv: 4, d_ff: 24, num_layers: 2, num_heads: 2, relative_attention_num_buckets: 8, relative_attention_max_distance: 16, ...over };
  return parseModelConfig(raw, 'tiny t5') as T5Config;
}

test('generation with the KV cache equals generation without it (greedy and sampled, tied and gated)', async () => {
  await useBackend('wasm');
  for (const over of [{}, { feed_forward_proj: 'gated-gelu', tie_word_embeddings: false }]) {
    const model = new T5ForConditionalGeneration(tinyT5(over), { init: randomInit(5, 0.5) });
    try {
      const before = tf.memory().numTensors;
      for (const sampling of [{}, { temperature: 0.9, topK: 10, seed: 3 }]) {
        const opts = { maxNewTokens: 7, stopAtEos: false, returnLogits: true, ...sampling };
        const cached = await generateSeq2Seq(model, [4, 9, 17, 22, 1], opts);
        const full = await generateSeq2Seq(model, [4, 9, 17, 22, 1], { ...opts, useCache: false });
        assert.deepEqual(cached.ids, full.ids);
        assert.equal(cached.ids.length, 7);
        cached.logits!.forEach((l, i) => assertClose(l, full.logits![i], 1e-4, `step ${i} logits`));
      }
      assert.equal(tf.memory().numTensors, before, 'generation leaves no tensors behind');
    } finally {
      model.dispose();
    }
  }
});

test('the classifier scores each label by its target log-likelihood and trains on the gold target', async () => {
  await useBackend('wasm');
  const config = tinyT5({ num_labels: 3 });
  const clf = new T5ForTextToTextClassification(config, { init: randomInit(2, 0.5) });
  const lm = new T5ForConditionalGeneration(config, { init: randomInit(2, 0.5) }); // same seed, same weights
  try {
    assert.throws(() => clf.setLabelTargets([[5, 1], [5, 1], [7, 1]]), /labels 0 and 1 have the same target tokens/);
    assert.throws(() => clf.setLabelTargets([[5, 1], [31, 1], [7, 1]]), /token id 31, outside the vocabulary/);
    assert.throws(() => clf.setLabelTargets([[5, 1]]), /1 label targets for 3 labels/);
    const targets = [[5, 1], [6, 8, 1], [7, 1]];
    clf.setLabelTargets(targets);
    const ids = int2d([[3, 9, 12, 1], [4, 1, 0, 0]]);
    const mask = int2d([[1, 1, 1, 1], [1, 1, 0, 0]]);
    const scores = await clf.classify(ids, mask).array();
    // independent route: one labels row per label through the plain model's seq2seq loss; the
    // target's log-likelihood is −(mean loss)·(its length)
    for (let k = 0; k < 3; k++) {
      const labels = int2d([targets[k], targets[k]]);
      const perRow = [0, 1].map((b) => {
        const row = tf.tidy(() => lm.loss(tf.slice(ids, [b, 0], [1, 4]), tf.slice(mask, [b, 0], [1, 4]), tf.slice(labels, [b, 0], [1, targets[k].length])));
        const v = -row.dataSync()[0] * targets[k].length;
        row.dispose();
        return v;
      });
      assertClose([scores[0][k], scores[1][k]], perRow, 1e-4, `label ${k} log-likelihood`);
      labels.dispose();
    }
    const gold = tf.tensor1d([1, 2], 'int32');
    const loss = clf.loss(ids, mask, gold);
    const padded = int2d([[6, 8, 1], [7, 1, -100]]);
    const want = lm.loss(ids, mask, padded);
    assertClose(await loss.data(), await want.data(), 1e-5, 'loss = seq2seq loss of the gold targets');
    tf.dispose([ids, mask, gold, loss, padded, want]);
  } finally {
    clf.dispose();
    lm.dispose();
  }
});

test('labelTargets: the label words without special tokens, then EOS', () => {
  const tok = { encode: (t: string, o?: { addSpecialTokens?: boolean }) => [...t.split(' ').map((w) => w.length + 1), ...(o?.addSpecialTokens === false ? [] : [1])] };
  assert.deepEqual(labelTargets(['a', 'abc de'], tok, 1), [[2, 1], [4, 3, 1]]);
});

test('a saved T5 round-trips with Hugging Face names and the same logits', async () => {
  await useBackend('wasm');
  const config = tinyT5({ feed_forward_proj: 'gated-gelu', tie_word_embeddings: false });
  const model = new T5ForConditionalGeneration(config, { init: randomInit(9, 0.5) });
  const dir = mkdtempSync(join(tmpdir(), 'lorapro-t5-'));
  try {
    await savePretrained(model, dir);
    const names = [...parseSafetensors(readFileSync(join(dir, 'model.safetensors'))).tensors.keys()];
    for (const n of ['shared.weight', 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', 'decoder.block.1.layer.1.EncDecAttention.q.weight', 'decoder.block.1.layer.2.DenseReluDense.wi_1.weight', 'encoder.final_layer_norm.weight', 'lm_head.weight']) {
      assert.ok(names.includes(n), `${n} saved`);
    }
    assert.ok(!names.includes('encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight'), 'only block 0 has the bias table');
    const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual([saved.model_type, saved.architectures, saved.feed_forward_proj, saved.d_kv], ['t5', ['T5ForConditionalGeneration'], 'gated-gelu', 4]);
    const back = await loadSeq2SeqLM(dir);
    const ids = int2d([[3, 4, 5, 1]]);
    const dec = int2d([[0, 7, 8]]);
    const [a, b] = [model.seq2seqLogits(ids, undefined, dec), back.seq2seqLogits(ids, undefined, dec)];
    assertClose(await b.data(), await a.data(), 1e-6, 'reloaded logits');
    tf.dispose([ids, dec, a, b]);
    back.dispose();
  } finally {
    model.dispose();
  }
});

test('loadSeq2SeqLM refuses a decoder-only folder, naming its config.json', async () => {
  await assert.rejects(loadSeq2SeqLM(fixtureDir('gpt2-lm')), /gpt2-lm\/config.json: model_type "gpt2" is not an encoder-decoder \(supported: t5\)/);
});

test('bad T5 config fields are named with their values', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ feed_forward_proj: 'gelu-gated' }, /"feed_forward_proj" must be of the form "gated-ACT" or "ACT".*"gelu-gated"/],
    [{ feed_forward_proj: 'gated-mish' }, /"feed_forward_proj" must be an activation among.*"gated-mish"/],
    [{ dropout_rate: 1.5 }, /"dropout_rate" must be a number in \[0, 1\), got 1.5/],
    [{ is_encoder_decoder: false }, /"is_encoder_decoder" must be true/],
    [{ num_heads: '8' }, /"num_heads" must be a positive integer, got "8"/],
    [{ d_kv: 0 }, /"d_kv" must be a positive integer, got 0/],
    [{ relative_attention_num_buckets: 2 }, /"relative_attention_num_buckets" must be at least 4/],
    [{ relative_attention_max_distance: 2 }, /"relative_attention_max_distance" must be greater than/],
    [{ decoder_start_token_id: -1 }, /"decoder_start_token_id" must be a non-negative integer, got -1/],
  ];
  for (const [over, re] of bad) assert.throws(() => tinyT5(over), (e: Error) => re.test(e.message) && e.message.startsWith('tiny t5:'), JSON.stringify(over));
  assert.throws(() => createModel(tinyT5(), { task: 'causal-lm' }), /t5 is an encoder-decoder, trained here as a text-to-text classifier \(--task classification\)/);
  const c = tinyT5({ feed_forward_proj: 'gated-gelu', pad_token_id: 3 });
  assert.deepEqual([c.denseActFn, c.isGatedAct, c.numDecoderLayers, c.decoderStartTokenId, c.tieWordEmbeddings, c.eosTokenId], ['gelu_new', true, 2, 3, true, 1]);
});

test('Hub configs of t5-small and flan-t5-small parse to their architectures and write back unchanged', () => {
  // the config.json files of google-t5/t5-small and google/flan-t5-small (task_specific_params left out)
  const t5Small = { architectures: ['T5ForConditionalGeneration'], d_ff: 2048, d_kv: 64, d_model: 512, decoder_start_token_id: 0, dropout_rate: 0.1, eos_token_id: 1, initializer_factor: 1.0, is_encoder_decoder: true, layer_norm_epsilon: 1e-6, model_type: 't5', n_positions: 512, num_heads: 8, num_layers: 6, output_past: true, pad_token_id: 0, relative_attention_num_buckets: 32, vocab_size: 32128 };
  const flanSmall = { architectures: ['T5ForConditionalGeneration'], d_ff: 1024, d_kv: 64, d_model: 512, decoder_start_token_id: 0, dense_act_fn: 'gelu_new', dropout_rate: 0.1, eos_token_id: 1, feed_forward_proj: 'gated-gelu', initializer_factor: 1.0, is_encoder_decoder: true, is_gated_act: true, layer_norm_epsilon: 1e-6, model_type: 't5', n_positions: 512, num_decoder_layers: 8, num_heads: 6, num_layers: 8, output_past: true, pad_token_id: 0, relative_attention_max_distance: 128, relative_attention_num_buckets: 32, tie_word_embeddings: false, vocab_size: 32128 };
  const a = parseModelConfig(t5Small, 't5-small/config.json') as T5Config;
  const b = parseModelConfig(flanSmall, 'flan-t5-small/config.json') as T5Config;
  assert.deepEqual([a.denseActFn, a.isGatedAct, a.tieWordEmbeddings, a.numDecoderLayers, a.relativeAttentionMaxDistance], ['relu', false, true, 6, 128]);
  assert.deepEqual([b.denseActFn, b.isGatedAct, b.tieWordEmbeddings, b.numDecoderLayers, b.numHeads * b.dKv], ['gelu_new', true, false, 8, 384]);
  assert.deepEqual(modelConfigToJson(a), t5Small);
  assert.deepEqual(modelConfigToJson(b), flanSmall);
});
