// LoRA-FA (Zhang et al., 2023, "LoRA-FA: Memory-efficient Low-rank Adaptation"), as PEFT's
// LoraFAOptimizer / create_lorafa_optimizer (huggingface/peft, src/peft/optimizers/lorafa.py):
// A stays frozen at its initialisation and only B trains, on the projected gradient
//   g̃_B = (1/s²) · g_B · (A·Aᵀ + δI)⁻¹,  δ = 1e-8,
// the gradient for which s·B·A's step best matches the full gradient's (min ‖s·g̃_B·A − g‖_F, with
// g_B = s·g·Aᵀ). g̃_B then drives PEFT's Adam (adamw-hf: step size lr·√(1−β2ᵗ)/(1−β1ᵗ), ε = 1e-6
// outside the correction, weight decay after the update); other trainable parameters (a head) get
// the same Adam on their plain gradients. A is constant, so (AAᵀ + δI)⁻¹ is computed once, in Float64.
import { tf } from '../engine/tf.js';
import { dampedInverse, mat, matmul, transpose } from '../math/linalg.js';
import { adamSlotShapes } from './adamw.js';
import { checkCommonOptions, disposeMap, prepareGradients, SlottedOptimizer, type CommonOptions, type LoraPair, type StepResult } from './optimizer.js';

export interface LoraFAOptions extends CommonOptions {
  beta1?: number; // default 0.9
  beta2?: number; // default 0.999
  eps?: number; // default 1e-6 (PEFT's LoraFAOptimizer)
}

/** δ of (AAᵀ + δI)⁻¹, PEFT's `delta = 1e-8`. */
const DELTA = 1e-8;

/**
 * LoRA-FA: B trained with the projected gradient, A frozen. `others` are the non-LoRA trainable
 * parameters; A must not be among the parameters that receive gradients.
 *
 * @example
 *   const opt = new LoraFA(pairs, others, { lr: 1e-3 });
 */
export class LoraFA extends SlottedOptimizer {
  readonly name = 'lora-fa';
  private readonly params: Map<string, tf.Variable>;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  /** Per pair, (1/s²)·(AAᵀ + δI)⁻¹ [r, r] as float32, made at the first step. */
  private projections: tf.Tensor2D[] | undefined;

  constructor(
    private readonly pairs: readonly LoraPair[],
    others: ReadonlyMap<string, tf.Variable>,
    private readonly opts: LoraFAOptions,
  ) {
    super();
    checkCommonOptions(opts, 'LoraFA');
    if (pairs.length === 0) throw new Error('LoraFA: no LoRA pairs given (inject adapters first)');
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-6;
    for (const [k, v] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) if (!(v >= 0 && v < 1)) throw new Error(`LoraFA: ${k} must be in [0, 1), got ${v}`);
    if (!(this.eps >= 0)) throw new Error(`LoraFA: eps must be ≥ 0, got ${this.eps}`);
    this.params = new Map();
    for (const p of pairs) {
      if (p.A.trainable) throw new Error(`LoraFA: "${p.aName}" must be frozen (LoRA-FA trains only B)`);
      this.params.set(p.bName, p.B);
    }
    for (const [n, v] of others) {
      if (this.params.has(n)) throw new Error(`LoraFA: parameter "${n}" appears twice`);
      this.params.set(n, v);
    }
  }

  /**
   * (1/s²)·(AAᵀ + δI)⁻¹ for each pair, from A read once (it never changes). The read-back is awaited,
   * as every one on the step's path (a webgpu worker's dataSync returned zeros).
   */
  private async projectionsOnce(): Promise<tf.Tensor2D[]> {
    if (!this.projections) {
      const factors = await Promise.all(this.pairs.map((p) => p.A.data()));
      this.projections = this.pairs.map((p, i) => {
        const [r, n] = p.A.shape;
        const a = mat(r, n, factors[i] as Float32Array);
        const inv = dampedInverse(matmul(a, transpose(a)), DELTA); // [r, r]
        return tf.tensor2d(Float32Array.from(inv.data, (v) => v / (p.scale * p.scale)), [r, r], 'float32');
      });
    }
    return this.projections;
  }

  async step(grads: ReadonlyMap<string, tf.Tensor>, lr = this.opts.lr): Promise<StepResult> {
    const prep = await prepareGradients(grads, this.params, this.opts, this.name);
    if (prep.grads === null) return { skipped: true, gradNorm: prep.gradNorm };
    this.t += 1;
    const proj = await this.projectionsOnce();
    const g = prep.grads;
    this.pairs.forEach((p, i) => {
      const raw = g.get(p.bName)!;
      g.set(p.bName, tf.tidy(() => tf.matMul(raw, proj[i]))); // [out, r]
      raw.dispose();
    });
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = 1 - this.beta2 ** this.t;
    const stepSize = (lr * Math.sqrt(bc2)) / bc1;
    const decay = 1 - lr * (this.opts.weightDecay ?? 0);
    for (const [name, p] of this.params) {
      const m = this.slots.get(`${name}.exp_avg`, p.shape);
      const v = this.slots.get(`${name}.exp_avg_sq`, p.shape);
      const gi = g.get(name)!;
      tf.tidy(() => {
        const m1 = tf.add(tf.mul(m, this.beta1), tf.mul(gi, 1 - this.beta1));
        const v1 = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(gi), 1 - this.beta2));
        m.assign(m1);
        v.assign(v1);
        const next = tf.sub(p, tf.mul(tf.div(m1, tf.add(tf.sqrt(v1), this.eps)), stepSize));
        p.assign(decay === 1 ? next : tf.mul(next, decay));
      });
    }
    disposeMap(g);
    return { skipped: false, gradNorm: prep.gradNorm };
  }

  protected slotShapes(): Map<string, number[]> {
    return adamSlotShapes(this.params);
  }

  override dispose(): void {
    super.dispose();
    if (this.projections) tf.dispose(this.projections);
    this.projections = undefined;
  }
}
