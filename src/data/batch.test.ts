import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../math/rng.js';
import { batchesFrom, makeBatches, mixSeed, nextPosition, padBatch, paddingWaste, type DataPosition } from './batch.js';

/** n sequences with seeded lengths in [1, maxLen]. */
function sequences(n: number, maxLen: number, seed = 3): { ids: number[] }[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({ ids: new Array<number>(1 + rng.int(maxLen)).fill(5) }));
}

test('every example lands in exactly one batch; only the last batch may be short', () => {
  const items = sequences(103, 40);
  for (const bucket of [true, false]) {
    const batches = makeBatches(items, { batchSize: 10, seed: 1, epoch: 0, bucket, bucketChunk: 3 });
    assert.equal(batches.length, 11); // ceil(103 / 10)
    assert.deepEqual(batches.map((b) => b.length).sort((a, b) => a - b), [3, ...new Array(10).fill(10)]);
    assert.deepEqual(batches.flat().sort((a, b) => a - b), Array.from({ length: 103 }, (_, i) => i));
    const dropped = makeBatches(items, { batchSize: 10, seed: 1, epoch: 0, bucket, dropLast: true });
    assert.equal(dropped.length, 10);
    assert.ok(dropped.every((b) => b.length === 10));
  }
});

test('batches are a pure function of (seed, epoch), and differ across epochs and seeds', () => {
  const items = sequences(200, 30);
  const at = (seed: number, epoch: number) => makeBatches(items, { batchSize: 4, seed, epoch });
  assert.deepEqual(at(5, 2), at(5, 2));
  assert.notDeepEqual(at(5, 2), at(5, 3));
  assert.notDeepEqual(at(5, 2), at(6, 2));
  // seed + epoch must not collide: (1, 0) and (0, 1) are different streams.
  assert.notEqual(mixSeed(1, 0), mixSeed(0, 1));
  assert.notDeepEqual(at(1, 0), at(0, 1));
});

test('resuming from a saved DataPosition replays exactly the batches an uninterrupted run would see', () => {
  const items = sequences(37, 20);
  const options = { batchSize: 4, seed: 11 };
  const perEpoch = makeBatches(items, { ...options, epoch: 0 }).length; // ceil(37 / 4) = 10
  assert.equal(perEpoch, 10);

  // Uninterrupted: 25 batches (2.5 epochs), walking positions with nextPosition.
  const straight: number[][] = [];
  let position: DataPosition = { epoch: 0, batchIndex: 0 };
  let saved: DataPosition | undefined;
  while (straight.length < 25) {
    straight.push(makeBatches(items, { ...options, epoch: position.epoch })[position.batchIndex]);
    position = nextPosition(position, perEpoch);
    if (straight.length === 13) saved = position; // "checkpoint" after 13 batches
  }
  assert.deepEqual(saved, { epoch: 1, batchIndex: 3 });

  // Interrupted after 13 batches: a fresh process resumes from the saved position.
  const resumed = [...straight.slice(0, 13), ...batchesFrom(items, options, saved!), ...makeBatches(items, { ...options, epoch: 2 })].slice(0, 25);
  assert.deepEqual(resumed, straight);
  assert.throws(() => batchesFrom(items, options, { epoch: 0, batchIndex: 11 }), /DataPosition\.batchIndex must be an integer in \[0, 10\] for epoch 0, got 11/);
});

test('length bucketing cuts padding waste well below random batching', () => {
  // Lengths uniform in 1..200, batches of 8. Random batches pad each sequence to roughly the batch
  // maximum (expected max of 8 uniforms ≈ 200·8/9 ≈ 178 vs mean ≈ 100.5): waste ≈ 1 − 100.5/178 ≈ 0.44.
  // Bucketed, a chunk of 400 sorted lengths steps by ~0.5, so a batch spans ~3.5 tokens: waste ≈ 2%.
  const items = sequences(4000, 200, 17);
  const random = paddingWaste(items, makeBatches(items, { batchSize: 8, seed: 0, epoch: 0, bucket: false }));
  const bucketed = paddingWaste(items, makeBatches(items, { batchSize: 8, seed: 0, epoch: 0, bucket: true }));
  assert.ok(random > 0.35 && random < 0.5, `random waste ${random}`);
  assert.ok(bucketed < 0.05, `bucketed waste ${bucketed}`);
  // The batch order is shuffled after bucketing, so lengths do not rise through the epoch.
  const longest = makeBatches(items, { batchSize: 8, seed: 0, epoch: 0 }).map((b) => Math.max(...b.map((i) => items[i].ids.length)));
  // Within a sorted chunk nearly every next batch is longer; after the shuffle about half are.
  const rises = longest.slice(1).filter((n, b) => n > longest[b]).length / (longest.length - 1);
  assert.ok(rises > 0.35 && rises < 0.65, `fraction of batches longer than the one before: ${rises}`);
});

test('paddingWaste by hand', () => {
  const items = [{ ids: [1] }, { ids: [1, 2, 3] }, { ids: [1, 2] }];
  // One batch of lengths 1 and 3: 2 × 3 = 6 slots, 4 real → 1/3 wasted. Rounded up to 4: 8 slots → 1/2.
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} ≠ ${b}`);
  close(paddingWaste(items, [[0, 1]]), 1 / 3);
  close(paddingWaste(items, [[0, 1]], 4), 1 / 2);
  // Batches [0] and [1, 2]: slots 1 + 2 × 3 = 7, real 6 → 1/7.
  close(paddingWaste(items, [[0], [1, 2]]), 1 / 7);
});

test('padBatch pads right or left, rounds the width up, and pads labels with -100', () => {
  const items = [
    { ids: [5, 6, 7], labels: [-100, 6, 7] },
    { ids: [8], labels: [8] },
  ];
  assert.deepEqual(padBatch(items, 0), {
    ids: [
      [5, 6, 7],
      [8, 0, 0],
    ],
    attentionMask: [
      [1, 1, 1],
      [1, 0, 0],
    ],
    labels: [
      [-100, 6, 7],
      [8, -100, -100],
    ],
  });
  assert.deepEqual(padBatch(items, 9, { side: 'left', padToMultipleOf: 4 }), {
    ids: [
      [9, 5, 6, 7],
      [9, 9, 9, 8],
    ],
    attentionMask: [
      [0, 1, 1, 1],
      [0, 0, 0, 1],
    ],
    labels: [
      [-100, -100, 6, 7],
      [-100, -100, -100, 8],
    ],
  });
  const pairs = padBatch([{ ids: [1, 2, 3], typeIds: [0, 0, 1] }, { ids: [4] }], 0);
  assert.deepEqual(pairs.typeIds, [
    [0, 0, 1],
    [0, 0, 0],
  ]);
  assert.equal(pairs.labels, undefined);
});

test('padBatch and makeBatches refuse bad input by name', () => {
  assert.throws(() => padBatch([], 0), /padBatch: the batch is empty/);
  assert.throws(() => padBatch([{ ids: [1] }], undefined as unknown as number), /padBatch: padId must be an integer token id, got undefined/);
  assert.throws(() => padBatch([{ ids: [1], labels: [1] }, { ids: [2] }], 0), /padBatch: item 1 lacks labels but item 0 has/);
  assert.throws(() => padBatch([{ ids: [1, 2], labels: [1] }], 0), /padBatch: item 0 has 2 ids but 1 labels/);
  assert.throws(() => padBatch([{ ids: [1] }], 0, { padToMultipleOf: 0 }), /padToMultipleOf must be a positive integer, got 0/);
  assert.throws(() => makeBatches([{ ids: [1] }], { batchSize: 0, seed: 0, epoch: 0 }), /batchSize must be a positive integer, got 0/);
  assert.throws(() => makeBatches([], { batchSize: 2, seed: 0, epoch: 0 }), /no examples to batch/);
});
