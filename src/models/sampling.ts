// Choosing the next token from one row of logits, in plain TypeScript (Float64), in the order
// Hugging Face's generate applies its warpers: temperature, then top-k, then top-p.
import type { Rng } from '../math/rng.js';

export interface SamplingOptions {
  /** 0 (default) is greedy argmax; otherwise logits are divided by it before sampling. */
  temperature?: number;
  /** Keep only the k most likely tokens (ties with the k-th kept, as HF's TopKLogitsWarper). */
  topK?: number;
  /** Keep the most likely tokens whose probabilities sum to at least topP (HF's TopPLogitsWarper). */
  topP?: number;
}

export function validateSampling(opts: SamplingOptions): void {
  const { temperature = 0, topK, topP } = opts;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new Error(`temperature must be a finite number ≥ 0, got ${temperature}`);
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) throw new Error(`topK must be a positive integer, got ${topK}`);
  if (topP !== undefined && !(topP > 0 && topP <= 1)) throw new Error(`topP must be in (0, 1], got ${topP}`);
}

/** Index of the largest value (the first on ties, as torch.argmax). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Sets every score below the k-th largest to −∞. */
export function topKFilter(scores: Float64Array, k: number): void {
  if (k >= scores.length) return;
  const kth = Float64Array.from(scores).sort().reverse()[k - 1];
  for (let i = 0; i < scores.length; i++) if (scores[i] < kth) scores[i] = -Infinity;
}

/**
 * Nucleus filtering as HF: sort ascending, drop tokens whose cumulative probability is ≤ 1 − topP,
 * always keeping the most likely one.
 */
export function topPFilter(scores: Float64Array, topP: number): void {
  const order = Array.from(scores.keys()).sort((a, b) => scores[a] - scores[b]); // ascending
  const probs = softmax(scores);
  let cum = 0;
  for (let r = 0; r < order.length - 1; r++) {
    cum += probs[order[r]];
    if (cum <= 1 - topP) scores[order[r]] = -Infinity;
  }
}

export function softmax(scores: Float64Array): Float64Array {
  let max = -Infinity;
  for (const s of scores) if (s > max) max = s;
  const out = scores.map((s) => Math.exp(s - max));
  const sum = out.reduce((a, b) => a + b, 0);
  return out.map((p) => p / sum);
}

/** The next token: argmax at temperature 0, else a seeded draw from the filtered distribution. */
export function sampleToken(logits: ArrayLike<number>, opts: SamplingOptions, rng: Rng): number {
  const temperature = opts.temperature ?? 0;
  if (temperature === 0) return argmax(logits);
  const scores = Float64Array.from(logits, (l) => l / temperature);
  if (opts.topK !== undefined) topKFilter(scores, opts.topK);
  if (opts.topP !== undefined && opts.topP < 1) topPFilter(scores, opts.topP);
  const probs = softmax(scores);
  let u = rng.next();
  for (let i = 0; i < probs.length; i++) {
    u -= probs[i];
    if (u < 0) return i;
  }
  return argmax(probs); // u landed on rounding error at the top end
}
