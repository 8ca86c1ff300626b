// Losses and pooling shared by the task heads, with Hugging Face's semantics.
import { tf } from '../engine/tf.js';
import { nativeOpsOn, softmaxWithLse } from '../engine/fused.js';

/** Label value that contributes nothing to the loss (PyTorch's CrossEntropyLoss ignore_index). */
export const IGNORE_INDEX = -100;

/**
 * Mean of −log softmax(logits)[label] over rows whose label ≠ -100. logits [N, V], labels int32 [N].
 * With every label ignored the mean is taken as 0 (PyTorch returns NaN), so a fully padded batch
 * cannot poison a training run.
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const keep = tf.notEqual(labels, IGNORE_INDEX); // [N] bool
    const safe = tf.cast(tf.where(keep, labels, tf.zerosLike(labels)), 'int32'); // ignored rows point at class 0
    const w = tf.cast(keep, 'float32');
    const rowWeight = tf.div(w, tf.maximum(tf.sum(w), 1)); // [N]: 1/count on kept rows, 0 on ignored ones
    return weightedNll(logits, safe as tf.Tensor1D, rowWeight as tf.Tensor1D);
  });
}

/**
 * Σ_n weight[n]·(logsumexp(z[n]) − z[n, label[n]]) with its gradient written out,
 * ∂/∂z[n] = weight[n]·(softmax(z[n]) − onehot(label[n])). One softmax over [N, V] gives both: its
 * largest entry is exp(0)/Σ exp(z − max) exactly, so logsumexp = max − log(max softmax), with no
 * underflow (max softmax ≥ 1/V). The backends' Softmax is a fused kernel (XNNPACK on wasm), ~6×
 * faster there than an Exp over the same [N, V]; log-softmax plus a gather would also tape a scatter.
 */
function weightedNll(logits: tf.Tensor2D, labels: tf.Tensor1D, weight: tf.Tensor1D): tf.Scalar {
  const [N, V] = logits.shape;
  const f = tf.customGrad(((z: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const flatIdx = tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), labels); // [N]
    let p: tf.Tensor; // [N, V]
    let nll: tf.Tensor; // [N] logsumexp(z) − z[label]
    if (nativeOpsOn()) {
      // the native softmax returns each row's logsumexp from the same pass (no Max reductions)
      const out = softmaxWithLse(z);
      p = out.p;
      nll = tf.sub(out.lse, tf.gather(tf.reshape(z, [N * V]), flatIdx));
    } else {
      p = tf.softmax(z);
      const top = tf.max(z, -1); // [N]
      const picked = tf.sub(tf.gather(tf.reshape(z, [N * V]), flatIdx), top); // [N] label logit − max, ≤ 0
      const logTotal = tf.neg(tf.log(tf.max(p, -1))); // [N] log Σ exp(z − max)
      nll = tf.sub(logTotal, picked);
    }
    save([p, labels, weight]); // saved copies outlive the caller's tidy, which backprop runs after
    return {
      value: tf.sum(tf.mul(nll, weight)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [ps, ys, ws] = saved;
        return tf.tidy(() => {
          const onehot = tf.cast(tf.oneHot(ys as tf.Tensor1D, V), 'float32'); // [N, V] (wasm's OneHot ignores a float dtype)
          return [tf.mul(tf.sub(ps, onehot), tf.mul(tf.reshape(ws, [N, 1]), dy))];
        });
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(logits) as tf.Scalar;
}

/**
 * Causal-LM loss: position t predicts labels[:, t+1] (the shift happens here, as in Hugging Face's
 * `ForCausalLMLoss`), averaged over labels ≠ -100. logits [B, T, V], labels int32 [B, T].
 * The labels shift left and the last position gets -100, rather than the logits being sliced: the
 * same mean, without copying [B, T, V] (and padding its gradient back).
 */
export function causalLmLoss(logits: tf.Tensor3D, labels: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    if (labels.shape[0] !== B || labels.shape[1] !== T) throw new Error(`labels shape [${labels.shape}] must match ids [${B}, ${T}]`);
    const next = tf.concat([tf.slice(tf.cast(labels, 'int32'), [0, 1], [B, T - 1]), tf.fill([B, 1], IGNORE_INDEX, 'int32')], 1); // [B, T]
    return crossEntropy(tf.reshape(logits, [B * T, V]) as tf.Tensor2D, tf.reshape(next, [B * T]) as tf.Tensor1D);
  });
}

/**
 * An output layer with no trainable parameter whose two products are at hand: logits = h·Wᵀ and the
 * input gradient dz·W (a frozen head outside the heap: models/frozen-linear.ts `frozenHead`).
 */
export interface FrozenHead {
  readonly vocab: number;
  logits(h: tf.Tensor2D): tf.Tensor2D; // [n, d] → [n, V]
  inputGrad(dz: tf.Tensor2D): tf.Tensor2D; // [n, V] → [n, d]
}

/** Rows of logits a chunk holds: 2^24 floats (64 MiB) a chunk, so its softmax and gradient stay a few hundred MiB at any vocabulary. */
const CHUNK_FLOATS = 2 ** 24;

/**
 * `causalLmLoss(h·Wᵀ, labels)` without ever holding the [B·T, V] logits: the forward pass computes
 * each chunk of rows' logits, its logsumexp and picked logit, and drops them; the backward pass
 * recomputes each chunk's logits for softmax − onehot and returns dh = dz·W chunk by chunk (when one
 * chunk holds every row, its softmax is kept instead: one product with the head fewer). No head
 * gradient: the head is frozen. At Llama-3's vocabulary (128,256) and 4 × 256 tokens the logits, their
 * softmax and gradients were ~2.5 GB of a 4 GB heap; here a chunk is 64 MiB. h [B, T, d], labels [B, T].
 */
export function chunkedCausalLmLoss(h: tf.Tensor3D, labels: tf.Tensor2D, head: FrozenHead, chunkRows = Math.max(1, Math.floor(CHUNK_FLOATS / head.vocab))): tf.Scalar {
  const [B, T, d] = h.shape;
  if (labels.shape[0] !== B || labels.shape[1] !== T) throw new Error(`labels shape [${labels.shape}] must match ids [${B}, ${T}]`);
  const N = B * T;
  const V = head.vocab;
  const spans: [number, number][] = [];
  for (let r = 0; r < N; r += chunkRows) spans.push([r, Math.min(chunkRows, N - r)]);
  return tf.tidy(() => {
    const next = tf.concat([tf.slice(tf.cast(labels, 'int32'), [0, 1], [B, T - 1]), tf.fill([B, 1], IGNORE_INDEX, 'int32')], 1); // [B, T]
    const flat = tf.reshape(next, [N]) as tf.Tensor1D;
    const keep = tf.notEqual(flat, IGNORE_INDEX);
    const safe = tf.cast(tf.where(keep, flat, tf.zerosLike(flat)), 'int32') as tf.Tensor1D; // ignored rows point at class 0
    const w = tf.cast(keep, 'float32');
    const weight = tf.div(w, tf.maximum(tf.sum(w), 1)) as tf.Tensor1D; // [N]: 1/count on kept rows
    // one chunk holds every row: its probabilities are kept for the backward pass (one chunk's bytes,
    // as the recomputation would hold) instead of a second product with the head
    const single = spans.length === 1;
    const f = tf.customGrad(((x: tf.Tensor2D, save: tf.GradSaveFunc) => {
      let total = tf.scalar(0);
      let kept: tf.Tensor | undefined;
      for (const [start, rows] of spans) {
        const next: tf.Scalar = tf.tidy(() => {
          const z = head.logits(tf.slice(x, [start, 0], [rows, d]) as tf.Tensor2D); // [rows, V]
          const { p, nll } = rowNll(z, tf.slice(safe, [start], [rows]) as tf.Tensor1D);
          if (single) kept = tf.keep(p);
          return tf.add(total, tf.sum(tf.mul(nll, tf.slice(weight, [start], [rows])))) as tf.Scalar;
        });
        total.dispose();
        total = next;
      }
      save(kept ? [x, safe, weight, kept] : [x, safe, weight]);
      kept?.dispose(); // the tape holds its own copy now
      return {
        value: total,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xs, ys, ws, ps] = saved;
          const parts = spans.map(([start, rows]) =>
            tf.tidy(() => {
              const p = ps ?? rowNll(head.logits(tf.slice(xs, [start, 0], [rows, d]) as tf.Tensor2D), tf.slice(ys, [start], [rows]) as tf.Tensor1D).p; // [rows, V], recomputed
              const onehot = tf.cast(tf.oneHot(tf.slice(ys, [start], [rows]) as tf.Tensor1D, V), 'float32'); // [rows, V]
              const dz = tf.mul(tf.sub(p, onehot), tf.mul(tf.reshape(tf.slice(ws, [start], [rows]), [rows, 1]), dy)) as tf.Tensor2D;
              return head.inputGrad(dz); // [rows, d]
            }),
          );
          const dx = tf.concat(parts, 0);
          tf.dispose(parts);
          return [dx];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return f(tf.reshape(h, [N, d])) as tf.Scalar;
  });
}

/** softmax(z) per row and logsumexp(z) − z[label]: weightedNll's two routes, for one chunk. */
function rowNll(z: tf.Tensor2D, labels: tf.Tensor1D): { p: tf.Tensor; nll: tf.Tensor } {
  const [n, V] = z.shape;
  const flatIdx = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(V, 'int32')), labels); // [n]
  if (nativeOpsOn()) {
    const out = softmaxWithLse(z);
    return { p: out.p, nll: tf.sub(out.lse, tf.gather(tf.reshape(z, [n * V]), flatIdx)) };
  }
  const p = tf.softmax(z);
  const picked = tf.sub(tf.gather(tf.reshape(z, [n * V]), flatIdx), tf.max(z, -1)); // label logit − max
  return { p, nll: tf.sub(tf.neg(tf.log(tf.max(p, -1))), picked) };
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
