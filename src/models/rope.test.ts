import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ropeInvFreq } from './rope.js';
import { assertClose } from './testing.js';

test('llama3 rope scaling keeps high, divides low and blends middle frequencies', () => {
  // head_dim 16, θ_i = 10000^(−i/8). With L = 32, low = 1, high = 4: wavelengths below 8 are kept,
  // above 32 divided by 8, and between blended with s = (32/λ − 1)/3.
  const inv = ropeInvFreq(16, 10000, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 32 });
  const t1 = Math.pow(10000, -1 / 8); // λ = 2π/t1 ≈ 19.87: the blended band
  const s = (32 / ((2 * Math.PI) / t1) - 1) / 3;
  assertClose(inv.slice(0, 3), [1, (1 - s) * (t1 / 8) + s * t1, 0.1 / 8], 1e-6, 'inv_freq');
});

test('linear rope scaling divides every frequency; no scaling is the plain geometric series', () => {
  assertClose(ropeInvFreq(4, 100), [1, 0.1], 1e-7, 'default');
  assertClose(ropeInvFreq(4, 100, { type: 'linear', factor: 2 }), [0.5, 0.05], 1e-7, 'linear');
  assert.throws(() => ropeInvFreq(5, 100), /even head_dim/);
});
