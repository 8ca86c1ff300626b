// The base model the repository ships (models/lorapro-base): it loads with loadPretrained, has the
// size its config and model card state, and scores the validation loss its model card reports on
// the held-out Moby-Dick chunks, through the ordinary `lorapro eval`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHIPPED_BASE } from '../bench/paper/base.js';
import { useBackend } from '../engine/backend.js';
import { loadPretrained } from '../models/pretrained.js';
import { corpusSplits, MODEL_CARD_FILE } from '../run/pretrain.js';
import { tempDir } from '../train/testing.js';
import { runCli } from './testing.js';

const card = readFileSync(join(SHIPPED_BASE, MODEL_CARD_FILE), 'utf8');
const cardField = (name: string): string => {
  const m = card.match(new RegExp(`^\\| ${name} \\| (.+) \\|$`, 'm'));
  assert.ok(m, `${MODEL_CARD_FILE} has no "${name}" row`);
  return m[1];
};

test('the shipped base loads with loadPretrained and has the size its model card states', async () => {
  await useBackend();
  const model = await loadPretrained(SHIPPED_BASE, { task: 'causal-lm' });
  const params = [...model.namedParameters().values()].reduce((n, v) => n + v.size, 0);
  model.dispose();
  assert.equal(cardField('parameters'), params.toLocaleString('en-US'));
  assert.ok(params < 5_000_000, `${params} parameters: "a few million at most"`);
  assert.match(card, /npx lorapro pretrain --config models\/base-config\.json --out models\/lorapro-base --max-steps \d+/);
});

test('the shipped base scores its model card\'s validation loss on the held-out chunks (lorapro eval)', async () => {
  const m = cardField('validation loss').match(/→ ([\d.]+) at the end/);
  assert.ok(m, 'validation loss row');
  const reported = Number(m[1]);
  const data = join(tempDir('lorapro-shipped-'), 'validation.jsonl');
  writeFileSync(data, corpusSplits(128).validation.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const r = await runCli('eval', '--model', SHIPPED_BASE, '--data', data, '--task', 'causal-lm', '--max-length', '136', '--json');
  assert.equal(r.code, 0, r.err);
  const loss = JSON.parse(r.out.trim().split('\n').at(-1)!).loss as number;
  assert.ok(Math.abs(loss - reported) <= 0.01 * reported, `eval loss ${loss} vs model card ${reported}`);
  assert.ok(loss < 2.5, `${loss} nats per byte: a random byte model scores ln 257 ≈ 5.55`);
});
