import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DYNAMIC_MAP, dynamicCode, dynamicValue, quantizeDynamic } from './dynamic-map.js';

const f = Math.fround;

/** Within one float32 rounding of the real number `exact` (a few ulp: linspace, the mean and the product each round once). */
function nearReal(actual: number, exact: number, what: string): void {
  assert.ok(Math.abs(actual - exact) <= 4 * 2 ** -24 * Math.abs(exact), `${what}: ${actual}, expected ≈ ${exact}`);
}

test('the dynamic map has 256 ascending float32 values in [−0.99297, 1], 0 at code 127, sign-symmetric below 255', () => {
  assert.equal(DYNAMIC_MAP.length, 256);
  for (let c = 1; c < 256; c++) assert.ok(DYNAMIC_MAP[c - 1] < DYNAMIC_MAP[c], `code ${c} above code ${c - 1}`);
  assert.equal(DYNAMIC_MAP[127], 0);
  assert.equal(DYNAMIC_MAP[255], 1);
  for (let k = 1; k <= 127; k++) assert.equal(DYNAMIC_MAP[127 - k], -DYNAMIC_MAP[127 + k], `code ${127 - k} mirrors code ${127 + k}`);
  assert.ok(DYNAMIC_MAP.every((v) => v === f(v)));
});

test('dynamic map entries from create_dynamic_map by hand: decade i holds the 2^i midpoints of linspace(0.1, 1, 2^i + 1) times 10^(i − 6)', () => {
  // Positive codes, ascending: decade 0 (1 value) is code 128, decade 1 (2) codes 129–130, decade 2 (4)
  // 131–134, decade 3 (8) 135–142, decade 4 (16) 143–158, decade 5 (32) 159–190, decade 6 (64) 191–254.
  // Midpoint k of linspace(0.1, 1, m + 1) is 0.1 + 0.9·(k + 0.5)/m.
  const mid = (k: number, m: number) => 0.1 + (0.9 * (k + 0.5)) / m;
  nearReal(DYNAMIC_MAP[128], 0.55e-6, 'code 128: (0.1 + 1)/2 · 1e-6');
  nearReal(DYNAMIC_MAP[129], 0.325e-5, 'code 129: (0.1 + 0.55)/2 · 1e-5');
  nearReal(DYNAMIC_MAP[130], 0.775e-5, 'code 130: (0.55 + 1)/2 · 1e-5');
  nearReal(DYNAMIC_MAP[131], mid(0, 4) * 1e-4, 'code 131');
  nearReal(DYNAMIC_MAP[142], mid(7, 8) * 1e-3, 'code 142');
  nearReal(DYNAMIC_MAP[150], mid(7, 16) * 1e-2, 'code 150');
  nearReal(DYNAMIC_MAP[159], mid(0, 32) * 0.1, 'code 159: 0.01140625');
  nearReal(DYNAMIC_MAP[191], mid(0, 64), 'code 191: 0.10703125');
  nearReal(DYNAMIC_MAP[222], mid(31, 64), 'code 222: 0.54296875');
  nearReal(DYNAMIC_MAP[254], mid(63, 64), 'code 254: 1 − 0.9/128');
  nearReal(DYNAMIC_MAP[0], -mid(63, 64), 'code 0: −(1 − 0.9/128)');
  nearReal(DYNAMIC_MAP[126], -0.55e-6, 'code 126');
});

test('dynamicCode picks the nearest code; a value on a midpoint goes to the even code, as the CUDA dQuantize does', () => {
  // brute force over seeded values in [−1, 1] (a tie has probability 0 here)
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  for (let t = 0; t < 2000; t++) {
    const x = f(t % 10 === 0 ? rand() * 1e-4 : rand());
    let best = 0;
    for (let c = 1; c < 256; c++) if (Math.abs(x - DYNAMIC_MAP[c]) < Math.abs(x - DYNAMIC_MAP[best])) best = c;
    assert.equal(dynamicCode(x), best, `x = ${x}`);
  }
  assert.equal(dynamicCode(1), 255);
  assert.equal(dynamicCode(-1), 0);
  assert.equal(dynamicCode(0), 127);
  assert.equal(dynamicCode(NaN), 0);
  // float32 midpoints: (10, 11) → 10 and (11, 12) → 12, the binary search's even pivot either way
  const midpoint = (a: number) => f(DYNAMIC_MAP[a] + DYNAMIC_MAP[a + 1]) * 0.5;
  assert.equal(dynamicCode(midpoint(10)), 10);
  assert.equal(dynamicCode(midpoint(11)), 12);
  assert.equal(dynamicCode(midpoint(200)), 200);
  assert.equal(dynamicCode(midpoint(201)), 202);
});

test('quantizeDynamic: blocks of 256 with their own absmax, the last block shorter; dequantized = code·absmax', () => {
  // 258 values: block 0 (256) has absmax 4, block 1 holds 2 values with absmax 0.5
  const x = new Float32Array(258);
  x[0] = 4;
  x[1] = -2; // −2/4 = −0.5: the nearest code is the one nearest −0.5 (−0.50078124, code 35)
  x[256] = 0.5;
  x[257] = 0;
  const q = quantizeDynamic(x);
  assert.deepEqual([...q.absmax], [4, 0.5]);
  assert.deepEqual([q.codes[0], q.codes[2], q.codes[256], q.codes[257]], [255, 127, 255, 127]);
  assert.equal(q.codes[1], 35);
  nearReal(DYNAMIC_MAP[35], -(0.1 + (0.9 * 28.5) / 64), 'code 35 = −code 219, midpoint 28 of decade 6');
  assert.deepEqual([dynamicValue(q, 0), dynamicValue(q, 1), dynamicValue(q, 256)], [4, f(DYNAMIC_MAP[35] * 4), 0.5]);
});
