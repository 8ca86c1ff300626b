// Attention pieces shared by GPT-2, Llama and BERT: additive masks, position ids from a padding
// mask, head split/merge and scaled dot-product attention with grouped key/value heads.
import { tf } from '../engine/tf.js';
import { biasedSoftmax, softmaxGrad } from '../engine/fused.js';
import type { Dropout } from './layers.js';

/**
 * Added to the scores of masked keys. Finite (not -∞) so a query whose keys are all masked (a left
 * pad) gets a uniform row instead of NaN, as Hugging Face's `finfo.min` does; in float32,
 * score − 1e9 rounds to −1e9 exactly, so every masked entry is equal.
 */
export const MASKED = -1e9;

/**
 * Additive attention bias [B or 1, 1, T, S] (0 = attend, MASKED = don't) for T queries at positions
 * past … past+T−1 over S = past + T keys. `causal` hides later keys; `attentionMask` (int32 [B, S],
 * 1 = token, 0 = padding) hides padding keys. Undefined when nothing is masked.
 */
export function attentionBias(
  T: number,
  past: number,
  causal: boolean,
  attentionMask?: tf.Tensor2D,
  slidingWindow?: number,
): tf.Tensor4D | undefined {
  if (!causal && attentionMask === undefined) return undefined;
  return tf.tidy(() => {
    const S = past + T;
    let bias: tf.Tensor | undefined = causal ? tf.tensor4d(causalBias(T, past, slidingWindow), [1, 1, T, S], 'float32') : undefined;
    if (attentionMask !== undefined) {
      const [B, maskLen] = attentionMask.shape;
      if (maskLen !== S) throw new Error(`attentionMask has ${maskLen} columns, expected ${S} (cached ${past} + new ${T})`);
      const keep = tf.cast(tf.cast(attentionMask, 'bool'), 'float32'); // [B, S], 1 = token
      const padding = tf.reshape(tf.mul(tf.sub(1, keep), MASKED), [B, 1, 1, S]);
      // An additive broadcast is one fast kernel on wasm (logicalAnd/minimum broadcast element by element,
      // ~50x slower); a key hidden twice sums to 2·MASKED and is clamped back so all masked entries are equal.
      bias = bias === undefined ? padding : tf.maximum(tf.add(bias, padding), MASKED); // [B, 1, T, S]
    }
    return bias as tf.Tensor4D;
  });
}

/** The causal part of the bias as host data [T, S]: key j is visible from query i (position past + i) iff j ≤ past + i, and within the sliding window when there is one. */
function causalBias(T: number, past: number, slidingWindow?: number): Float32Array {
  const S = past + T;
  const out = new Float32Array(T * S);
  for (let i = 0; i < T; i++) {
    const q = past + i;
    for (let j = 0; j < S; j++) {
      // Mistral: only the last `slidingWindow` positions (q − j < window), as HF's sliding-window mask.
      const visible = j <= q && (slidingWindow === undefined || q - j < slidingWindow);
      if (!visible) out[i * S + j] = MASKED;
    }
  }
  return out;
}

/**
 * Position ids for the last T of the mask's S columns: the index among real tokens, so a
 * left-padded row counts from 0 at its first token (Hugging Face `generate`: cumsum − 1, pads → 1).
 * int32 [B, S] → int32 [B, T].
 */
export function positionIdsFromMask(attentionMask: tf.Tensor2D, T: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, S] = attentionMask.shape;
    const mask = tf.cast(attentionMask, 'int32');
    const pos = tf.sub(tf.cumsum(mask, 1), tf.scalar(1, 'int32')); // [B, S]
    const filled = tf.where(tf.equal(mask, 0), tf.onesLike(pos), pos);
    return tf.slice(filled, [0, S - T], [B, T]) as tf.Tensor2D;
  });
}

/** Position ids past … past+T−1 for every row: int32 [B, T]. */
export function positionIdsRange(B: number, T: number, past: number): tf.Tensor2D {
  return tf.tidy(() => tf.tile(tf.reshape(tf.range(past, past + T, 1, 'int32'), [1, T]), [B, 1]) as tf.Tensor2D);
}

/** [B, T, nH·hd] → [B, nH, T, hd]. */
export function splitHeads(x: tf.Tensor, nHead: number): tf.Tensor4D {
  const [B, T, C] = x.shape;
  return tf.transpose(tf.reshape(x, [B, T, nHead, C / nHead]), [0, 2, 1, 3]);
}

/**
 * A fused projection [B, T, 3·nH·hd] (q, k, v side by side) → q, k, v, each [B, nH, T, hd]. One
 * transpose, then a split along an axis whose slices are contiguous per row: on wasm, splitting the
 * last axis first copies 128-float runs one by one (~3× the time of this route).
 */
export function splitQkvHeads(qkv: tf.Tensor, nHead: number): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  const [B, T, C3] = qkv.shape;
  const hd = C3 / (3 * nHead);
  const heads = tf.transpose(tf.reshape(qkv, [B, T, 3 * nHead, hd]), [0, 2, 1, 3]); // [B, 3·nH, T, hd]
  const parts = tf.split(tf.reshape(heads, [B, 3, nHead * T * hd]), 3, 1); // 3 × [B, 1, nH·T·hd]
  return parts.map((p) => tf.reshape(p, [B, nHead, T, hd])) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
}

/** [B, nH, T, hd] → [B, T, nH·hd]. */
export function mergeHeads(x: tf.Tensor): tf.Tensor3D {
  const [B, nH, T, hd] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B, T, nH * hd]);
}

/**
 * softmax(q·kᵀ·scale + bias)·v. q [B, nH, T, hd]; k, v [B, nKV, S, hd] with nH a multiple of nKV:
 * query head h reads key/value head ⌊h / (nH/nKV)⌋, as Hugging Face's `repeat_kv`. Rather than
 * tiling k and v, the rep = nH/nKV query heads that share a kv head are stacked along T, which is
 * the same arithmetic without copying keys and values.
 *
 * Under a gradient tape it keeps only q, k and v for the backward pass, which computes the
 * probabilities again (as FlashAttention does): the probabilities [B, nH, T, S] are the largest
 * thing a block would keep (32 MiB of its 208 at Llama-3.2-1B's shape, batch 4 × 256), and
 * computing them is one product of the block's many. With attention dropout the taped ops run instead.
 * A bias is a constant mask unless `learnedBias` (T5's position bias, a parameter's output): only
 * then is its gradient computed.
 */
export function scaledDotProductAttention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  bias: tf.Tensor4D | undefined,
  opts: { scale: number; dropout?: Dropout; dropoutRate?: number; learnedBias?: boolean },
): tf.Tensor4D {
  const [, nH] = q.shape;
  const [, nKV] = k.shape;
  if (nH % nKV !== 0) throw new Error(`query heads (${nH}) must be a multiple of key/value heads (${nKV})`);
  const learned = bias !== undefined && opts.learnedBias === true;
  if (opts.dropout && opts.dropoutRate) return tf.tidy(() => attentionOps(q, k, v, bias, opts.scale, learned, (p) => opts.dropout!(p, opts.dropoutRate!)));
  const inputs = learned ? [q, k, v, bias] : [q, k, v];
  const f = tf.customGrad(((...args: unknown[]) => {
    const [qs, ks, vs, bs] = args.slice(0, inputs.length) as tf.Tensor4D[];
    const b = bs ?? bias; // a mask is saved for the recomputation, not differentiated
    (args[inputs.length] as tf.GradSaveFunc)(b === undefined ? [qs, ks, vs] : [qs, ks, vs, b]);
    const value = attentionOps(qs, ks, vs, b, opts.scale, learned);
    const gradFunc = (dy: tf.Tensor4D, saved: tf.Tensor[]) => attentionGrads(dy, saved as tf.Tensor4D[], opts.scale, learned);
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(...inputs) as tf.Tensor4D;
}

/** q scaled and grouped by kv head [B, nKV, rep·T, hd] (scaled before the product, where there are hd/S as many entries to scale), and softmax(q·kᵀ·scale + bias) [B, nH, T, S]. */
function probabilities(q: tf.Tensor4D, k: tf.Tensor4D, bias: tf.Tensor4D | undefined, scale: number): { qg: tf.Tensor4D; p: tf.Tensor4D } {
  const [B, nH, T, hd] = q.shape;
  const [, nKV, S] = k.shape;
  const qg = tf.reshape(tf.mul(q, scale), [B, nKV, (nH / nKV) * T, hd]) as tf.Tensor4D;
  const scores = tf.reshape(tf.matMul(qg, k, false, true), [B, nH, T, S]); // [B, nKV, rep·T, S] → [B, nH, T, S]
  return { qg, p: biasedSoftmax(scores, bias) as tf.Tensor4D }; // one native pass per row, else the add and Softmax
}

/** The forward ops: probabilities (then `drop`, if any) times v. */
function attentionOps(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor4D | undefined, scale: number, learnedBias: boolean, drop?: (p: tf.Tensor) => tf.Tensor): tf.Tensor4D {
  const [B, nH, T, hd] = q.shape;
  const [, nKV, S] = k.shape;
  const att = drop ? drop(maskedProbabilities(q, k, bias, scale, learnedBias)) : probabilities(q, k, bias, scale).p;
  const y = tf.matMul(tf.reshape(att, [B, nKV, (nH / nKV) * T, S]), v); // [B, nKV, rep·T, hd]
  return tf.reshape(y, [B, nH, T, hd]);
}

/**
 * dq, dk, dv (and a learned bias's gradient) from dy [B, nH, T, hd] and the saved q, k, v (and bias):
 * the probabilities again, then the taped ops' own gradients (BatchMatMul's two, softmax's
 * y·(dy − Σ dy·y), Multiply's by the scale). The bias's gradient is the scores' summed over the axes it
 * broadcasts along.
 */
function attentionGrads(dy: tf.Tensor4D, [q, k, v, bias]: tf.Tensor4D[], scale: number, learnedBias: boolean): tf.Tensor[] {
  return tf.tidy(() => {
    const [B, nH, T, hd] = q.shape;
    const [, nKV, S] = k.shape;
    const rows = (nH / nKV) * T;
    const { qg, p } = probabilities(q, k, bias, scale);
    const dy2 = tf.reshape(dy, [B, nKV, rows, hd]);
    const pg = tf.reshape(p, [B, nKV, rows, S]);
    const dv = tf.matMul(pg, dy2, true, false); // [B, nKV, S, hd]
    const dp = tf.reshape(tf.matMul(dy2, v, false, true), [B, nH, T, S]);
    const ds = tf.reshape(softmaxGrad(p, dp), [B, nKV, rows, S]);
    const dk = tf.matMul(ds, qg, true, false); // [B, nKV, S, hd]
    const dq = tf.mul(tf.reshape(tf.matMul(ds, k), [B, nH, T, hd]), scale);
    return learnedBias ? [dq, dk, dv, biasGrad(tf.reshape(ds, [B, nH, T, S]), bias.shape)] : [dq, dk, dv];
  });
}

/** The gradient of a bias added to scores [B, nH, T, S]: dscores summed over the axes the bias broadcasts along. */
function biasGrad(dscores: tf.Tensor, biasShape: readonly number[]): tf.Tensor {
  const broadcast = biasShape.flatMap((n, axis) => (n === 1 && dscores.shape[axis] > 1 ? [axis] : []));
  return broadcast.length > 0 ? tf.sum(dscores, broadcast, true) : dscores;
}

/**
 * The probabilities with the softmax's gradient written out, dscores = y·(dy − Σ dy·y) (and the bias's,
 * as attentionGrads), for the taped route (attention dropout): on the native engine each direction is
 * one kernel call instead of the taped add, softmax and the four ops of Softmax's registered gradient.
 */
function maskedProbabilities(q: tf.Tensor4D, k: tf.Tensor4D, bias: tf.Tensor4D | undefined, scale: number, learnedBias: boolean): tf.Tensor4D {
  const [B, nH, T, hd] = q.shape;
  const [, nKV, S] = k.shape;
  const qg = tf.reshape(tf.mul(q, scale), [B, nKV, (nH / nKV) * T, hd]);
  const scores = tf.reshape(tf.matMul(qg, k, false, true), [B, nH, T, S]);
  const inputs = learnedBias && bias !== undefined ? [scores, bias] : [scores];
  const f = tf.customGrad(((...args: unknown[]) => {
    const [x, b] = args.slice(0, inputs.length) as tf.Tensor[];
    const y = biasedSoftmax(x, b ?? bias);
    (args[inputs.length] as tf.GradSaveFunc)([y]);
    const gradFunc = (d: tf.Tensor, [ys]: tf.Tensor[]) =>
      tf.tidy(() => {
        const ds = softmaxGrad(ys, d);
        return b === undefined ? [ds] : [ds, biasGrad(ds, b.shape)];
      });
    return { value: y, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(...inputs) as tf.Tensor4D;
}
