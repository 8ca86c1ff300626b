// Rotary position embeddings as Hugging Face Llama applies them (the rotate_half convention: the
// first and second halves of each head are the two coordinates of each rotated pair).
import { tf } from '../engine/tf.js';
import type { RopeScaling } from '../io/hf-config.js';

/** θ_i = base^(−2i/d) for i < d/2: `_compute_default_rope_parameters`. */
export function defaultInvFreq(headDim: number, base: number): Float64Array {
  const out = new Float64Array(headDim / 2);
  for (let i = 0; i < out.length; i++) out[i] = 1 / Math.pow(base, (2 * i) / headDim);
  return out;
}

/** Position interpolation, `_compute_linear_scaling_rope_parameters`: θ_i / factor. */
export function linearScaledInvFreq(invFreq: Float64Array, factor: number): Float64Array {
  return invFreq.map((f) => f / factor);
}

/**
 * Llama 3.1's frequency-dependent scaling, `_compute_llama3_parameters`: wavelengths longer than
 * L/lowFreqFactor are divided by `factor`, shorter than L/highFreqFactor kept, and the band between
 * blended with s = (L/λ − low)/(high − low):  θ' = (1 − s)·θ/factor + s·θ.
 */
export function llama3ScaledInvFreq(
  invFreq: Float64Array,
  s: { factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number },
): Float64Array {
  const L = s.originalMaxPositionEmbeddings;
  const lowFreqWavelen = L / s.lowFreqFactor;
  const highFreqWavelen = L / s.highFreqFactor;
  return invFreq.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highFreqWavelen) return f;
    if (wavelen > lowFreqWavelen) return f / s.factor;
    const smooth = (L / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}

/** Inverse frequencies [headDim/2] for a config's rope_theta and rope_scaling, in float32 as HF keeps them. */
export function ropeInvFreq(headDim: number, theta: number, scaling?: RopeScaling): Float32Array {
  if (headDim % 2 !== 0) throw new Error(`rotary embeddings need an even head_dim, got ${headDim}`);
  const base = defaultInvFreq(headDim, theta);
  if (scaling === undefined) return Float32Array.from(base);
  switch (scaling.type) {
    case 'linear':
      return Float32Array.from(linearScaledInvFreq(base, scaling.factor));
    case 'llama3':
      return Float32Array.from(llama3ScaledInvFreq(base, scaling));
  }
}

/** cos and sin of position·θ, each [B, 1, T, hd] (the two halves repeat θ, as `cat((freqs, freqs))`). */
export function ropeCosSin(positionIds: tf.Tensor2D, invFreq: Float32Array): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
  return tf.tidy(() => {
    const [B, T] = positionIds.shape;
    const hd = 2 * invFreq.length;
    const doubled = new Float32Array(hd); // θ twice on the host, rather than concatenating [B, T, hd/2] twice
    doubled.set(invFreq);
    doubled.set(invFreq, invFreq.length);
    const pos = tf.reshape(tf.cast(positionIds, 'float32'), [B, 1, T, 1]);
    const emb = tf.mul(pos, tf.tensor1d(doubled, 'float32')); // [B, 1, T, hd]
    return { cos: tf.cos(emb) as tf.Tensor4D, sin: tf.sin(emb) as tf.Tensor4D };
  });
}

/**
 * ropeCosSin for positions past, past + 1, …, past + T − 1 in every row (no padding mask), computed on the
 * host: the same float32 angle position·θ (an exact product rounded once, as HF's float32 matmul), its
 * cos and sin correctly rounded to float32, where the tensor route ran Cos and Sin kernels over [B, T, hd]
 * (2.2 and 2.1 ms of a Llama S step on the native engine: `node dist/bench/train.js --arch llama --profile`).
 */
export function ropeCosSinRange(B: number, T: number, past: number, invFreq: Float32Array): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
  const half = invFreq.length;
  const hd = 2 * half;
  const cos = new Float32Array(B * T * hd);
  const sin = new Float32Array(B * T * hd);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround((past + t) * invFreq[i]);
      cos[t * hd + i] = cos[t * hd + half + i] = Math.cos(angle); // both halves repeat θ
      sin[t * hd + i] = sin[t * hd + half + i] = Math.sin(angle);
    }
  }
  for (let b = 1; b < B; b++) {
    cos.copyWithin(b * T * hd, 0, T * hd);
    sin.copyWithin(b * T * hd, 0, T * hd);
  }
  return { cos: tf.tensor4d(cos, [B, 1, T, hd]), sin: tf.tensor4d(sin, [B, 1, T, hd]) };
}

/**
 * rotate_half(x) = cat(−x₂, x₁) over the last axis, as one product with the signed permutation R
 * [hd, hd] (R[i + hd/2, i] = −1, R[i, i + hd/2] = 1): exact, since every output is ±one input plus
 * zeros, and on wasm one matmul (its gradient another) instead of a split, a negation and a concat
 * that copy 16-float runs one at a time. With `transposed`, x·Rᵀ: rotate_half's gradient.
 */
export function rotateHalf(x: tf.Tensor4D, transposed = false): tf.Tensor4D {
  return tf.tidy(() => {
    const hd = x.shape[3];
    const rows = x.size / hd;
    // x·Rᵀ (transposed) undoes the rotation: the gradient of x·R
    return tf.reshape(tf.matMul(tf.reshape(x, [rows, hd]), rotateHalfMatrix(hd), false, transposed), x.shape) as tf.Tensor4D; // [B, H, T, hd]
  });
}

/** The [hd, hd] matrix R with x·R = rotate_half(x) for a row x. */
function rotateHalfMatrix(hd: number): tf.Tensor2D {
  const half = hd / 2;
  const r = new Float32Array(hd * hd);
  for (let i = 0; i < half; i++) {
    r[(i + half) * hd + i] = -1; // out[i] = −x[i + half]
    r[i * hd + i + half] = 1; // out[i + half] = x[i]
  }
  return tf.tensor2d(r, [hd, hd], 'float32');
}

/**
 * x·cos + rotate_half(x)·sin for x [B, H, T, hd], with its gradient written out: cos and sin are
 * constants, so dx = dy·cos + rotate_halfᵀ(dy·sin) needs nothing from the forward pass but them (the
 * taped ops kept x twice, once per product: 20 MiB a block at Llama-3.2-1B's shape, batch 4 × 256).
 * The same ops as the tape's gradients, in the same order, so the same numbers.
 */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  const f = tf.customGrad(((xs: tf.Tensor4D, save: tf.GradSaveFunc) => {
    save([cos, sin]); // kept alive for the backward pass: the forward's tables are freed when it ends
    const value = tf.add(tf.mul(xs, cos), tf.mul(rotateHalf(xs), sin));
    const gradFunc = (dy: tf.Tensor4D, [c, s]: tf.Tensor[]) => tf.tidy(() => [tf.add(tf.mul(dy, c), rotateHalf(tf.mul(dy, s) as tf.Tensor4D, true))]);
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor4D;
}
