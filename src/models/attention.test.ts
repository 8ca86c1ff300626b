import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { MASKED, attentionBias, splitHeads, splitQkvHeads } from './attention.js';

/** Plain numbers, with −0 (a kept padding entry, (1 − 1)·MASKED) read as 0. */
const values = (a: ArrayLike<number>) => Array.from(a, (v) => v + 0);

/** The bias by its definition, one entry at a time: 0 where key j is visible from query i, else MASKED. */
function expectedBias(B: number, T: number, past: number, mask: number[][] | undefined, window?: number): number[] {
  const S = past + T;
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < S; j++) {
        const q = past + i;
        const visible = j <= q && (window === undefined || q - j < window) && (mask === undefined || mask[b][j] !== 0);
        out.push(visible ? 0 : MASKED);
      }
    }
  }
  return out;
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`attentionBias on ${backend}: causal, padding, cache offset and sliding window, every masked entry equal`, async () => {
    await useBackend(backend);
    const mask = [[0, 0, 1, 1, 1], [1, 1, 1, 1, 0]]; // left and right padding
    const cases = [
      { T: 5, past: 0, mask: undefined, window: undefined },
      { T: 5, past: 0, mask, window: undefined },
      { T: 2, past: 3, mask, window: undefined },
      { T: 5, past: 0, mask, window: 2 },
    ];
    for (const c of cases) {
      const m = c.mask && tf.tensor2d(c.mask, [2, 5], 'int32');
      const bias = attentionBias(c.T, c.past, true, m, c.window)!;
      const B = c.mask ? 2 : 1;
      assert.deepEqual(bias.shape, [B, 1, c.T, c.past + c.T]);
      assert.deepEqual(values(await bias.data()), expectedBias(B, c.T, c.past, c.mask, c.window), `T ${c.T}, past ${c.past}, window ${c.window}`);
      tf.dispose([bias, ...(m ? [m] : [])]);
    }
    const m = tf.tensor2d(mask, [2, 5], 'int32');
    const padOnly = attentionBias(5, 0, false, m)!;
    assert.deepEqual(values(await padOnly.data()), mask.flatMap((row) => row.map((v) => (v ? 0 : MASKED))));
    tf.dispose([m, padOnly]);
  });
}

test('splitQkvHeads equals splitting the projection, then each into heads', async () => {
  await useBackend('wasm');
  const qkv = tf.randomUniform([2, 5, 3 * 12], -1, 1, 'float32', 9); // 3 heads of 4
  const got = splitQkvHeads(qkv, 3);
  const want = tf.split(qkv, 3, -1).map((t) => splitHeads(t, 3));
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(got[i].shape, [2, 3, 5, 4]);
    assert.deepEqual([...(await got[i].data())], [...(await want[i].data())], ['q', 'k', 'v'][i]);
  }
  tf.dispose([qkv, ...got, ...want]);
});
