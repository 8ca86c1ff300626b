import { tf } from '../engine/tf.js';
import { Rng } from '../math/rng.js';
import { Module } from '../models/module.js';
import type { Linear, LinearLike } from '../models/linear.js';
import type { InitLoraWeights } from './lora-config.js';

/** Holds one LoRA factor under the parameter name "weight", as PEFT's lora_A / lora_B Linear. */
class Factor extends Module {
  readonly weight: tf.Variable<tf.Rank.R2>;
  constructor(value: tf.Tensor2D) {
    super();
    this.weight = this.param('weight', value);
  }
}

export interface LoraLinearOptions {
  r: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
  init: InitLoraWeights;
  rng: Rng;
}

/**
 * A LoRA adapter around a frozen linear layer, with PEFT's semantics and names:
 *   y = x·W0ᵀ + b + s·dropout(x)·Aᵀ·Bᵀ,  A = lora_A.weight [r, in], B = lora_B.weight [out, r],
 * s = alpha / r (alpha / sqrt(r) with rsLoRA). A starts kaiming-uniform (bound 1/sqrt(in), PEFT's
 * default) or gaussian (std 1/r); B starts at 0 so a fresh adapter changes nothing.
 */
export class LoraLinear extends Module implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly r: number;
  readonly alpha: number;
  readonly scale: number;
  readonly dropout: number;
  /** Dropout is applied only while training. */
  training = false;
  private merged = false;
  /** Seeded source of dropout masks; its `state` is checkpointed so a resumed run draws the same masks. */
  readonly rng: Rng;
  readonly base: Linear;
  private readonly loraA: Factor;
  private readonly loraB: Factor;

  constructor(base: Linear, opts: LoraLinearOptions) {
    super();
    const { r, alpha } = opts;
    const [out, inF] = base.weight.shape;
    if (!(Number.isInteger(r) && r >= 1)) throw new Error(`LoRA rank must be a positive integer, got ${r}`);
    if (r > Math.min(out, inF)) throw new Error(`LoRA rank ${r} exceeds min(out, in) = ${Math.min(out, inF)} of a [${out}, ${inF}] layer`);
    this.inFeatures = inF;
    this.outFeatures = out;
    this.r = r;
    this.alpha = alpha;
    this.scale = opts.useRslora ? alpha / Math.sqrt(r) : alpha / r;
    this.dropout = opts.dropout;
    this.rng = opts.rng;
    base.setTrainable(false);
    this.base = this.child('base_layer', base);
    const bound = 1 / Math.sqrt(inF); // kaiming_uniform_(a=√5): gain √(1/3), bound = √3·gain/√fan_in
    const aInit = opts.init === 'gaussian' ? opts.rng.normalArray(r * inF, 1 / r) : opts.rng.uniformArray(r * inF, -bound, bound);
    const bInit = opts.init === false ? opts.rng.uniformArray(out * r, -1 / Math.sqrt(r), 1 / Math.sqrt(r)) : new Float32Array(out * r);
    this.loraA = this.child('lora_A', new Factor(tf.tensor2d(aInit, [r, inF], 'float32')));
    this.loraB = this.child('lora_B', new Factor(tf.tensor2d(bInit, [out, r], 'float32')));
  }

  get A(): tf.Variable<tf.Rank.R2> {
    return this.loraA.weight;
  }

  get B(): tf.Variable<tf.Rank.R2> {
    return this.loraB.weight;
  }

  get isMerged(): boolean {
    return this.merged;
  }

  forward(x: tf.Tensor): tf.Tensor {
    const y = this.base.forward(x);
    if (this.merged) return y;
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      let x2 = tf.reshape(x, [-1, this.inFeatures]); // [N, in]
      if (this.training && this.dropout > 0) x2 = tf.dropout(x2, this.dropout, undefined, this.rng.int(2 ** 31));
      // s applied to A [r, in], not to the [N, r] or [N, out] product: the multiply (a broadcast, slow on
      // wasm) and the tensor the tape keeps for its gradient are r·in floats, not N·r or N·out
      const xa = tf.matMul(x2, tf.mul(this.A, this.scale), false, true); // [N, r]
      const delta = tf.matMul(xa, this.B, false, true); // [N, out]
      return tf.add(y, tf.reshape(delta, [...lead, this.outFeatures]));
    });
  }

  /** s·B·A [out, in], the weight change this adapter represents. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.matMul(this.B, this.A), this.scale) as tf.Tensor2D);
  }

  /** Folds s·B·A into W0. `safe` checks the result is finite before writing it. */
  merge(safe = false): void {
    if (this.merged) return;
    const next = tf.tidy(() => tf.add(this.base.weight, this.deltaWeight()) as tf.Tensor2D);
    if (safe && !tf.tidy(() => tf.all(tf.isFinite(next)).dataSync()[0])) {
      next.dispose();
      throw new Error(`safe merge refused: W0 + s·B·A has non-finite values (layer [${this.outFeatures}, ${this.inFeatures}], r ${this.r})`);
    }
    this.base.weight.assign(next);
    next.dispose();
    this.merged = true;
  }

  unmerge(): void {
    if (!this.merged) return;
    tf.tidy(() => this.base.weight.assign(tf.sub(this.base.weight, this.deltaWeight()) as tf.Tensor2D));
    this.merged = false;
  }
}
