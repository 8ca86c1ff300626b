// Losses and pooling shared by the task heads, with Hugging Face's semantics.
import { tf } from '../engine/tf.js';

/** Label value that contributes nothing to the loss (PyTorch's CrossEntropyLoss ignore_index). */
export const IGNORE_INDEX = -100;

/**
 * Mean of −log softmax(logits)[label] over rows whose label ≠ -100. logits [N, V], labels int32 [N].
 * With every label ignored the mean is taken as 0 (PyTorch returns NaN), so a fully padded batch
 * cannot poison a training run.
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const [N, V] = logits.shape;
    const keep = tf.notEqual(labels, IGNORE_INDEX); // [N] bool
    const safe = tf.where(keep, labels, tf.zerosLike(labels)); // ignored rows point at class 0
    const logp = tf.logSoftmax(logits, -1); // [N, V]
    const flatIdx = tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), tf.cast(safe, 'int32')); // [N]
    const picked = tf.gather(tf.reshape(logp, [N * V]), flatIdx); // [N] log-prob of each label
    const w = tf.cast(keep, 'float32');
    const count = tf.maximum(tf.sum(w), 1);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, w))), count) as tf.Scalar;
  });
}

/**
 * Causal-LM loss: position t predicts labels[:, t+1] (the shift happens here, as in Hugging Face's
 * `ForCausalLMLoss`), averaged over labels ≠ -100. logits [B, T, V], labels int32 [B, T].
 */
export function causalLmLoss(logits: tf.Tensor3D, labels: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    if (labels.shape[0] !== B || labels.shape[1] !== T) throw new Error(`labels shape [${labels.shape}] must match ids [${B}, ${T}]`);
    const shiftLogits = tf.reshape(tf.slice(logits, [0, 0, 0], [B, T - 1, V]), [B * (T - 1), V]) as tf.Tensor2D; // [B·(T−1), V]
    const shiftLabels = tf.reshape(tf.slice(labels, [0, 1], [B, T - 1]), [B * (T - 1)]) as tf.Tensor1D; // [B·(T−1)]
    return crossEntropy(shiftLogits, shiftLabels);
  });
}

/** Sequence-classification loss: cross-entropy, or mean squared error for one label (regression). */
export function classificationLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    if (logits.shape[1] === 1) return tf.mean(tf.square(tf.sub(tf.reshape(logits, [-1]), tf.cast(labels, 'float32')))) as tf.Scalar;
    return crossEntropy(logits, labels);
  });
}

/** Index of the last real token of each row: int32 [B, T] mask → int32 [B] (works for left and right padding). */
export function lastTokenIndex(attentionMask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const [, T] = attentionMask.shape;
    const idx = tf.mul(tf.range(0, T, 1, 'int32'), tf.cast(attentionMask, 'int32')); // [B, T], pads → 0
    return tf.argMax(idx, 1) as tf.Tensor1D;
  });
}

/** hidden[b, index[b], :] — [B, T, d] × int32 [B] → [B, d]. */
export function gatherRows(hidden: tf.Tensor3D, index: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T, d] = hidden.shape;
    const flatIdx = tf.add(tf.mul(tf.range(0, B, 1, 'int32'), tf.scalar(T, 'int32')), index); // [B]
    return tf.gather(tf.reshape(hidden, [B * T, d]), flatIdx) as tf.Tensor2D;
  });
}
