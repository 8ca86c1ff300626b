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
    const half = invFreq.length;
    const pos = tf.reshape(tf.cast(positionIds, 'float32'), [B, T, 1]);
    const freqs = tf.mul(pos, tf.tensor1d(invFreq, 'float32')); // [B, T, hd/2]
    const emb = tf.reshape(tf.concat([freqs, freqs], -1), [B, 1, T, 2 * half]); // [B, 1, T, hd]
    return { cos: tf.cos(emb) as tf.Tensor4D, sin: tf.sin(emb) as tf.Tensor4D };
  });
}

/** rotate_half(x) = cat(−x₂, x₁) over the last axis. */
export function rotateHalf(x: tf.Tensor4D): tf.Tensor4D {
  const half = x.shape[3] / 2;
  const [x1, x2] = tf.split(x, [half, half], -1);
  return tf.concat([tf.neg(x2), x1], -1) as tf.Tensor4D;
}

/** x·cos + rotate_half(x)·sin for x [B, H, T, hd]. */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.add(tf.mul(x, cos), tf.mul(rotateHalf(x), sin)));
}
