import { tf } from '../engine/tf.js';
import { Rng } from '../math/rng.js';
import { Module } from '../models/module.js';
import { FrozenWeight } from '../engine/frozen.js';
import { FrozenLinear } from '../models/frozen-linear.js';
import type { Linear, LinearLike, RemadeInput } from '../models/linear.js';
import type { InitLoraWeights } from './lora-config.js';

/** Holds one LoRA factor under the parameter name "weight", as PEFT's lora_A / lora_B Linear. */
class Factor extends Module {
  readonly weight: tf.Variable<tf.Rank.R2>;
  constructor(value: tf.Tensor2D) {
    super();
    this.weight = this.param('weight', value);
  }
}

/** DoRA's magnitude [out] under the parameter name "weight", as PEFT's DoraLinearLayer. */
class Magnitude extends Module {
  readonly weight: tf.Variable<tf.Rank.R1>;
  constructor(value: tf.Tensor1D) {
    super();
    this.weight = this.param('weight', value);
  }
}

/**
 * ‖W + s·B·A‖ per output row [out], treated as a constant by autodiff: DoRA §4.3 detaches the norm
 * from the graph (PEFT: `weight_norm = weight_norm.detach()`, src/peft/tuners/lora/dora.py). TF.js
 * has no stopGradient, so a custom gradient returns zeros.
 */
const detachedRowNorm = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [w, b, a, s] = args as tf.Tensor2D[];
  (args[4] as tf.GradSaveFunc)([w, b, a, s]);
  const value = tf.norm(tf.add(w, tf.mul(tf.matMul(b, a), s)), 'euclidean', 1); // [out]
  return { value, gradFunc: (_dy: tf.Tensor, saved: tf.Tensor[]) => saved.map((t) => tf.zerosLike(t)) };
}) as never) as unknown as (w: tf.Tensor2D, b: tf.Tensor2D, a: tf.Tensor2D, s: tf.Scalar) => tf.Tensor1D;

export interface LoraLinearOptions {
  r: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
  init: InitLoraWeights;
  rng: Rng;
  /** DoRA: output = m / ‖W + s·B·A‖ · (W + s·B·A)·x (+ bias), m trained. Default false. */
  useDora?: boolean;
}

const FROZEN_DORA =
  "DoRA needs the base weight on the heap (its row norms ‖W0 + s·B·A‖ every step), and this base is on the frozen tier (quantized, or kept outside the wasm heap); use --quantize none with LORAPRO_BACKEND=wasm, or another method";

/**
 * A LoRA adapter around a frozen linear layer, with PEFT's semantics and names:
 *   y = x·W0ᵀ + b + s·dropout(x)·Aᵀ·Bᵀ,  A = lora_A.weight [r, in], B = lora_B.weight [out, r],
 * s = alpha / r (alpha / sqrt(r) with rsLoRA). A starts kaiming-uniform (bound 1/sqrt(in), PEFT's
 * default) or gaussian (std 1/r); B starts at 0 so a fresh adapter changes nothing. Inits computed
 * from the base (PiSSA, OLoRA, LoRA-GA) are applied afterwards by `initFromBase` (lora-init.ts).
 * With DoRA (PEFT's `lora_magnitude_vector`, dora.py DoraLinearLayer.forward):
 *   y = x·W0ᵀ + b + (m/‖W0 + s·B·A‖ − 1)·(x̃·W0ᵀ) + (m/‖W0 + s·B·A‖)·s·x̃·Aᵀ·Bᵀ,  x̃ = dropout(x),
 * m [out] starting at ‖W0 + s·B·A‖ row-wise, so again a fresh adapter changes nothing.
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
  /** The wrapped layer: a Linear on the heap, or a FrozenLinear whose weight lives outside it (engine/frozen.ts). */
  readonly base: Linear | FrozenLinear;
  private readonly loraA: Factor;
  private readonly loraB: Factor;
  private readonly magnitudeModule: Magnitude | undefined;
  /** DoRA: the row factor m/‖W0 + s·B·A‖ folded into the weight by merge, to undo it. */
  private mergedFactor: tf.Tensor1D | undefined;
  /**
   * A0, B0 of an init that moved s·B0·A0 out of the base weight (PiSSA, OLoRA, LoRA-GA), kept on the
   * host so a save can express the adapter against the original base: W = W_res + s·B0·A0.
   */
  initialFactors: { readonly a: Float32Array; readonly b: Float32Array } | undefined;

  constructor(base: Linear | FrozenLinear, opts: LoraLinearOptions) {
    super();
    const { r, alpha } = opts;
    const [out, inF] = [base.outFeatures, base.inFeatures];
    if (opts.useDora && base instanceof FrozenLinear) throw new Error(FROZEN_DORA);
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
    this.magnitudeModule = opts.useDora ? this.child('lora_magnitude_vector', new Magnitude(this.weightNorm())) : undefined;
  }

  get useDora(): boolean {
    return this.magnitudeModule !== undefined;
  }

  /** DoRA's magnitude m [out] (PEFT's lora_magnitude_vector), or undefined without DoRA. */
  get magnitude(): tf.Variable<tf.Rank.R1> | undefined {
    return this.magnitudeModule?.weight;
  }

  /** The base weight as a heap variable; an error on the frozen tier (DoRA and the base-rewriting inits need it). */
  get baseWeight(): tf.Variable<tf.Rank.R2> {
    if (this.base instanceof FrozenLinear) throw new Error(FROZEN_DORA);
    return this.base.weight;
  }

  /** ‖W0 + s·B·A‖ per output row [out], detached from autodiff. */
  weightNorm(): tf.Tensor1D {
    return tf.tidy(() => detachedRowNorm(this.baseWeight, this.B, this.A, tf.scalar(this.scale)));
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
      let delta = tf.matMul(xa, this.B, false, true); // [N, out]
      if (this.magnitude) {
        const factor = tf.div(this.magnitude, this.weightNorm()); // [out] m / ‖W0 + s·B·A‖
        const baseX = tf.matMul(x2, this.baseWeight, false, true); // [N, out], on the dropped-out x as PEFT
        delta = tf.add(tf.mul(baseX, tf.sub(factor, 1)), tf.mul(delta, factor));
      }
      return tf.add(y, tf.reshape(delta, [...lead, this.outFeatures]));
    });
  }

  /**
   * forward(input.make(parts)) keeping `parts`, not the made input, for the backward pass (see
   * LinearLike.forwardRemade): one op whose gradient makes x again and then runs the taped ops'
   * own gradients in their order, so the numbers are the same. Only on a frozen-tier base without
   * dropout or DoRA, whose weight and bias take no gradient; undefined otherwise.
   */
  forwardRemade(input: RemadeInput): tf.Tensor | undefined {
    const base = this.base;
    const plain = !this.merged && this.magnitude === undefined && !(this.training && this.dropout > 0);
    if (!plain || !(base instanceof FrozenLinear) || base.usesDenseWeight || base.bias?.trainable) return undefined;
    const n = input.parts.length;
    const [inF, out, s] = [this.inFeatures, this.outFeatures, this.scale];
    const f = tf.customGrad(((...args: unknown[]) => {
      const parts = args.slice(0, n) as tf.Tensor[];
      const [a, b] = args.slice(n, n + 2) as tf.Tensor2D[];
      const save = args[n + 2] as tf.GradSaveFunc;
      const x = input.make(parts);
      const lead = x.shape.slice(0, -1);
      const x2 = tf.reshape(x, [-1, inF]) as tf.Tensor2D; // [N, in]
      let y = base.frozen.matmul(x2, 0); // [N, out]
      if (base.bias) y = tf.add(y, base.bias);
      const xa = tf.matMul(x2, tf.mul(a, s), false, true); // [N, r], as forward
      save([...parts, a, b, xa]);
      const value = tf.reshape(tf.add(y, tf.matMul(xa, b, false, true)), [...lead, out]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const kept = saved.slice(0, n);
          const [sa, sb, sxa] = saved.slice(n) as tf.Tensor2D[];
          const dy2 = tf.reshape(dy, [-1, out]) as tf.Tensor2D;
          const xs = input.make(kept);
          const dxa = tf.matMul(dy2, sb); // [N, r]
          const dB = tf.matMul(dy2, sxa, true, false); // [out, r]
          const dA = tf.mul(tf.matMul(dxa, tf.reshape(xs, [-1, inF]), true, false), s); // [r, in]
          const dx = tf.add(base.frozen.matmul(dy2, 1), tf.matMul(dxa, tf.mul(sa, s))); // [N, in]
          return [...input.grad(kept, tf.reshape(dx, xs.shape)), dA, dB];
        });
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return f(...input.parts, this.A, this.B) as tf.Tensor;
  }

  /** s·B·A [out, in], the weight change this adapter represents. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.matMul(this.B, this.A), this.scale) as tf.Tensor2D);
  }

  /**
   * Folds the adapter into W0: W0 + s·B·A, or with DoRA m/‖W0 + s·B·A‖ · (W0 + s·B·A) row-wise (PEFT's
   * DoRA merge). `safe` checks the result is finite before writing it.
   */
  merge(safe = false): void {
    if (this.merged) return;
    if (this.base instanceof FrozenLinear) {
      this.mergeFrozen(this.base, 1, safe);
      this.merged = true;
      return;
    }
    const weight = this.base.weight;
    const m = this.magnitude;
    if (m) this.mergedFactor = tf.tidy(() => tf.div(m, this.weightNorm()) as tf.Tensor1D);
    const factor = this.mergedFactor;
    const next = tf.tidy(() => {
      const w = tf.add(weight, this.deltaWeight()) as tf.Tensor2D;
      return factor ? (tf.mul(w, tf.reshape(factor, [-1, 1])) as tf.Tensor2D) : w;
    });
    if (safe && !tf.tidy(() => tf.all(tf.isFinite(next)).dataSync()[0])) {
      next.dispose();
      this.mergedFactor?.dispose();
      this.mergedFactor = undefined;
      throw new Error(`safe merge refused: W0 + s·B·A has non-finite values (layer [${this.outFeatures}, ${this.inFeatures}], r ${this.r})`);
    }
    weight.assign(next);
    next.dispose();
    this.merged = true;
  }

  /**
   * W0 ± s·B·A on a frozen base: its values (dequantized when quantized) plus the change, kept as a
   * float32 frozen weight (a quantized base is not requantized: the merge would lose the adapter).
   */
  private mergeFrozen(base: FrozenLinear, sign: 1 | -1, safe: boolean): void {
    const w = base.frozen.toFloat32();
    const delta = this.deltaWeight();
    const d = delta.dataSync();
    delta.dispose();
    for (let i = 0; i < w.length; i++) w[i] += sign * d[i];
    if (safe && !w.every(Number.isFinite)) {
      throw new Error(`safe merge refused: W0 + s·B·A has non-finite values (layer [${this.outFeatures}, ${this.inFeatures}], r ${this.r})`);
    }
    base.replaceWeight(FrozenWeight.fromFloat32(w, this.outFeatures, this.inFeatures, 'f32'));
  }

  unmerge(): void {
    if (!this.merged) return;
    if (this.base instanceof FrozenLinear) {
      this.mergeFrozen(this.base, -1, false);
      this.merged = false;
      return;
    }
    const factor = this.mergedFactor;
    const weight = this.base.weight;
    tf.tidy(() => {
      const w = factor ? tf.div(weight, tf.reshape(factor, [-1, 1])) : weight;
      weight.assign(tf.sub(w, this.deltaWeight()) as tf.Tensor2D);
    });
    factor?.dispose();
    this.mergedFactor = undefined;
    this.merged = false;
  }

  /** Frees the adapter's own tensors (A, B, m and a merge's DoRA factor), not the base layer's. */
  disposeAdapter(): void {
    tf.dispose([this.A, this.B, ...(this.magnitude ? [this.magnitude] : []), ...(this.mergedFactor ? [this.mergedFactor] : [])]);
    this.mergedFactor = undefined;
  }
}
