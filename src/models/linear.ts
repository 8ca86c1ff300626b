import { tf } from '../engine/tf.js';
import { Module } from './module.js';
import { Rng } from '../math/rng.js';

/** Anything that maps [..., in] to [..., out]; LoRA wrappers implement it too. */
export interface LinearLike extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  forward(x: tf.Tensor): tf.Tensor;
  /**
   * forward(input.make(parts)), keeping `parts` instead of that input for the backward pass, which
   * makes it again: for an input that is cheap to make from tensors kept anyway (the MLP's silu(gate)·up
   * from gate and up). Undefined where the layer cannot (then call forward).
   */
  forwardRemade?(input: RemadeInput): tf.Tensor | undefined;
}

/** A layer input made from `parts` by `make`, with `grad` giving the parts' gradients from the input's. */
export interface RemadeInput {
  readonly parts: readonly tf.Tensor[];
  make(parts: readonly tf.Tensor[]): tf.Tensor;
  grad(parts: readonly tf.Tensor[], dx: tf.Tensor): tf.Tensor[];
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
      let y = tf.matMul(x2, this.weight, false, true); // [N, out]
      if (this.bias) y = tf.add(y, this.bias);
      return tf.reshape(y, [...lead, this.outFeatures]);
    });
  }
}
