// Every fixture checkpoint, loaded by loadPretrained, reproduces the logits of the independent
// PyTorch implementation in scripts/parity/make_fixtures.py, on both backends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { loadPretrained } from './pretrained.js';
import { FIXTURES, assertClose, fixtureDir, int2d, readExpected } from './testing.js';

const RTOL = 1e-4;

for (const backend of ['wasm', 'cpu']) {
  for (const name of FIXTURES) {
    test(`${name} matches the PyTorch reference on ${backend}`, async () => {
      await useBackend(backend);
      const exp = readExpected(name);
      const warnings: string[] = [];
      const model = await loadPretrained(fixtureDir(name), { onWarning: (m) => warnings.push(m) });
      const before = tf.memory().numTensors;
      try {
        assert.deepEqual(warnings, [], 'a complete checkpoint loads without notices');
        assert.equal(model.task, exp.task);
        const ids = int2d(exp.input_ids);
        const mask = int2d(exp.attention_mask);
        if (model.task === 'causal-lm') {
          const logits = model.logits(ids, { attentionMask: mask });
          const got = (await logits.array()) as number[][][];
          (exp.logits as (number[] | null)[][]).forEach((row, b) =>
            row.forEach((want, t) => {
              if (want !== null) assertClose(got[b][t], want, RTOL, `${name} logits[${b}][${t}]`);
            }),
          );
          logits.dispose();
        } else {
          const tokenTypeIds = exp.token_type_ids ? int2d(exp.token_type_ids) : undefined;
          const logits = model.classify(ids, mask, { tokenTypeIds });
          assertClose(await logits.data(), (exp.logits as number[][]).flat(), RTOL, `${name} logits`);
          tf.dispose([logits, tokenTypeIds]);
        }
        tf.dispose([ids, mask]);
        assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
      } finally {
        model.dispose();
      }
    });
  }
}
