import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createProgress, formatDuration } from './progress.js';

/** A stream that records what is written; `tty` makes it look like a terminal. */
function stream(tty: boolean): { s: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const s = new PassThrough() as unknown as NodeJS.WriteStream & { isTTY: boolean; columns: number };
  s.isTTY = tty;
  s.columns = 160;
  (s as unknown as PassThrough).on('data', (c: Buffer) => chunks.push(c.toString()));
  return { s, text: () => chunks.join('') };
}

test('on a terminal: a cli-progress bar with step, loss, lr, tokens/s and ETA', async () => {
  const { s, text } = stream(true);
  const p = createProgress(s);
  p.start(10, 0);
  p.update({ step: 4, loss: 1.23456, lr: 0.001, tokensPerSec: 2500.4 });
  p.log('a notice');
  p.stop();
  await new Promise((r) => setImmediate(r));
  const out = text();
  assert.match(out, /step 4\/10/);
  assert.match(out, /loss 1\.2346/);
  assert.match(out, /lr 1\.00e-3/);
  assert.match(out, /2500 tok\/s/);
  assert.match(out, /ETA/);
  assert.match(out, /a notice/);
  assert.match(out, /\x1b\[/, 'terminal control codes: a live bar, not lines');
});

test('elsewhere: plain lines, the first and last step always, at most one per interval between', async () => {
  const { s, text } = stream(false);
  const p = createProgress(s, { minIntervalMs: 60_000 });
  p.start(10, 0);
  for (let step = 1; step <= 10; step++) p.update({ step, loss: 1 / step, lr: 0.01, tokensPerSec: 100 });
  p.stop();
  await new Promise((r) => setImmediate(r));
  const lines = text().trim().split('\n');
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0], /^step 1\/10 loss 1\.0000 lr 1\.00e-2 100 tok\/s ETA \d+:\d\d$/);
  assert.match(lines[1], /^step 10\/10 loss 0\.1000/);
  assert.ok(!/\x1b\[/.test(text()), 'no control codes');
});

test('formatDuration', () => {
  assert.equal(formatDuration(5), '0:05');
  assert.equal(formatDuration(125), '2:05');
  assert.equal(formatDuration(3725), '1:02:05');
  assert.equal(formatDuration(Number.NaN), '-');
});
