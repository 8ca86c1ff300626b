import { tf } from '../engine/tf.js';
import { Module } from './module.js';
import { Rng } from '../math/rng.js';

/** Anything that maps [..., in] to [..., out]; LoRA wrappers implement it too. */
export interface LinearLike extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  forward(x: tf.Tensor): tf.Tensor;
}

/**
 * y = x·Wᵀ + b with PyTorch/PEFT layout: weight [out, in], bias [out].
 * GPT-2's Conv1D stores weight as [in, out]; its loader transposes once at load time
 * (`transposeOnLoad`) so every linear layer in the project has the same layout.
 */
export class Linear extends Module implements LinearLike {
  readonly weight: tf.Variable<tf.Rank.R2>;
  readonly bias: tf.Variable<tf.Rank.R1> | undefined;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean; rng?: Rng; std?: number; transposeOnLoad?: boolean } = {},
  ) {
    super();
    const rng = opts.rng ?? new Rng(0);
    const std = opts.std ?? 0.02;
    // std 0 allocates zeros without drawing normals: the loader overwrites them from a checkpoint.
    const w = std === 0 ? tf.zeros([outFeatures, inFeatures], 'float32') : tf.tensor2d(rng.normalArray(outFeatures * inFeatures, std), [outFeatures, inFeatures], 'float32');
    this.weight = this.param('weight', w as tf.Tensor2D);
    this.bias = opts.bias === false ? undefined : this.param('bias', tf.zeros([outFeatures], 'float32'));
    this.transposeOnLoad = opts.transposeOnLoad ?? false;
  }

  /** True for GPT-2 Conv1D weights, stored [in, out] in checkpoints. */
  readonly transposeOnLoad: boolean;

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = tf.reshape(x, [-1, this.inFeatures]); // [N, in]
      const y = this.bias ? affine(x2 as tf.Tensor2D, this.weight, this.bias) : tf.matMul(x2, this.weight, false, true); // [N, out]
      return tf.reshape(y, [...lead, this.outFeatures]);
    });
  }
}

/**
 * x·Wᵀ + b over x [N, in] with its backward pass written out: the tape keeps x alone (nothing when W is
 * frozen), where TF.js's Add would keep the [N, out] product and its matMul x and W. dx = dy·W, and for a
 * trainable W and b: dW = dyᵀ·x, db = Σ dy over the rows. A frozen W or b gets no gradient computed.
 */
export function affine(x: tf.Tensor2D, weight: tf.Variable<tf.Rank.R2>, bias: tf.Variable<tf.Rank.R1>): tf.Tensor2D {
  const trainW = weight.trainable;
  const trainB = bias.trainable;
  const f = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args[0] as tf.Tensor2D;
    save(trainW ? [xs] : []);
    return {
      value: tf.add(tf.matMul(xs, weight, false, true), bias),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const grads: tf.Tensor[] = [tf.matMul(dy, weight)];
        if (trainW) grads.push(tf.matMul(dy, saved[0], true, false)); // [out, in]
        if (trainB) grads.push(tf.sum(dy, 0));
        return grads;
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(...[x, ...(trainW ? [weight] : []), ...(trainB ? [bias] : [])]) as tf.Tensor2D;
}
