import { tf } from '../engine/tf.js';
import { adamDirection, adamHyper, adamSlotShapes, adamwStep, applyUpdate, type AdamHyper, type AdamWOptions } from './adamw.js';
import { adjustedDescent, factorInverses, loraProCoefficients, loraProGradients, projectedGradient, readFactorGrams, readGrams, scaleGradientGrams, type XMode } from './lora-pro.js';
import { joinPairs, nonLoraParams } from './lora-pro-pairs.js';
import { disposeMap, prepareGradients, type LoraPair, type OptimizerState, type StepResult , SlottedOptimizer } from './optimizer.js';
import { HostMoments } from './host-moments.js';
import { hostAdamOn } from '../engine/fused.js';

export interface LoraProAdamWOptions extends AdamWOptions {
  /**
   * 'full' (paper Algorithm 2, the official final code): Adam moments of the equivalent gradient,
   * m×n per adapted layer, as full fine-tuning. 'efficient' (the official code before 2025): Adam
   * with LoRA-sized moments on the adjusted gradients, memory as plain LoRA.
   */
  mode?: 'full' | 'efficient';
  xMode?: XMode; // default 'sylvester'
  damping?: number; // default 1e-8
  /**
   * Full mode: keep the m×n moments in Node memory outside the wasm heap (host-moments.ts), updated
   * by the native engine. Default: wherever the native engine (with its adamHost kernel) is on.
   */
  momentsOutsideHeap?: boolean;
}

/**
 * LoRA-Pro AdamW. Differences from the official code, on purpose: s is each adapter's own scale
 * (not 16/8), bias correction starts at t = 1, pairs are matched by module, moments stay float32.
 * Clipping, like the official code, uses the norm of the raw LoRA gradients before adjustment.
 *
 * @example
 *   const opt = new LoraProAdamW(loraPairs(model), otherTrainable, { lr: 2e-4, mode: 'full' });
 *   await opt.step(grads);
 */
export class LoraProAdamW extends SlottedOptimizer {
  readonly name: string;
  private readonly params: Map<string, tf.Variable>;
  private readonly others: Map<string, tf.Variable>;
  private readonly h: AdamHyper;
  private readonly mode: 'full' | 'efficient';
  private readonly host: HostMoments | undefined;

  constructor(
    private readonly pairs: readonly LoraPair[],
    others: ReadonlyMap<string, tf.Variable>,
    private readonly opts: LoraProAdamWOptions,
  ) {
    super();
    this.h = adamHyper(opts, 'LoraProAdamW');
    this.mode = opts.mode ?? 'full';
    if (this.mode !== 'full' && this.mode !== 'efficient') throw new Error(`LoraProAdamW: mode must be "full" or "efficient", got "${this.mode}"`);
    this.name = this.mode === 'full' ? 'lora-pro' : 'lora-pro-efficient';
    this.params = joinPairs(pairs, others, 'LoraProAdamW');
    this.others = nonLoraParams(this.params, pairs);
    // full mode's m×n moments off the wasm heap where the native engine can update them there
    this.host = this.mode === 'full' && (opts.momentsOutsideHeap ?? hostAdamOn()) ? new HostMoments() : undefined;
    if (this.host && !hostAdamOn()) throw new Error('LoraProAdamW: momentsOutsideHeap needs the native engine (with its adamHost kernel)');
  }

  async step(grads: ReadonlyMap<string, tf.Tensor>, lr = this.opts.lr): Promise<StepResult> {
    const prep = await prepareGradients(grads, this.params, this.opts, this.name);
    if (prep.grads === null) return { skipped: true, gradNorm: prep.gradNorm };
    this.t += 1;
    const g = prep.grads;
    for (const p of this.pairs) {
      const gA = g.get(p.aName) as tf.Tensor2D;
      const gB = g.get(p.bName) as tf.Tensor2D;
      if (this.mode === 'full') await this.fullStep(p, gA, gB, lr);
      else await this.efficientStep(p, gA, gB, lr);
    }
    adamwStep(this.others, g, this.slots, this.t, lr, this.h);
    disposeMap(g);
    return { skipped: false, gradNorm: prep.gradNorm };
  }

  /**
   * Algorithm 2: Adam on g̃ (m×n moments), then the Adam direction is projected back onto A and B.
   * The algebra is the one of loraProGradients → equivalentGradient → adamDirection → loraProGradients
   * → applyUpdate (optimizers.test.ts checks it against that chain), in about a third of the kernels:
   * the r×r inverses are computed once for both adjustments, each adjustment's products and the
   * update are folded into one [2r]-inner product per factor (lora-pro.ts), and s, lr and the weight
   * decay ride in the r×r coefficients rather than in passes over layer-sized tensors.
   */
  private async fullStep(p: LoraPair, gA: tf.Tensor2D, gB: tf.Tensor2D, lr: number): Promise<void> {
    const { A, B, scale: s } = p;
    const [m, n] = [B.shape[0], A.shape[1]];
    const damping = this.opts.damping ?? 1e-8;
    const factors = await readFactorGrams(A, B); // A and B do not change until the update: read them once
    const inverses = factorInverses(factors, damping);
    // 1. g̃ = P_B·g + (I − P_B)·g·P_A from the LoRA gradients (independent of X, so X = 0).
    const zero = loraProCoefficients(await readGrams(A, B, gA, gB, factors), s, 'zero', damping, inverses);
    const gTilde = projectedGradient({ A, B, gradA: gA, gradB: gB, scale: s }, zero); // [m, n]
    // 2–3. Adam moments of g̃ and the bias-corrected direction ĝ.
    const dir = this.host
      ? this.host.direction(p.module, gTilde, this.t, this.h) // moments outside the wasm heap
      : adamDirection(gTilde, this.slots.get(`${p.module}.exp_avg`, [m, n]), this.slots.get(`${p.module}.exp_avg_sq`, [m, n]), this.t, this.h);
    gTilde.dispose();
    // 4. Treat ĝ as a full gradient: its LoRA gradients s·Bᵀ·ĝ and s·ĝ·Aᵀ (s applied in the r×r algebra), adjusted with the chosen X.
    const [dA, dB] = tf.tidy(() => [tf.matMul(B, dir, true, false), tf.matMul(dir, A, false, true)] as [tf.Tensor2D, tf.Tensor2D]);
    dir.dispose();
    const grams = scaleGradientGrams(await readGrams(A, B, dA, dB, factors), s);
    const c = loraProCoefficients(grams, s, this.opts.xMode ?? 'sylvester', damping, inverses);
    adjustedDescent({ A, B }, { dA, dB, gradScale: s }, c, lr, 1 - lr * this.h.weightDecay);
    tf.dispose([dA, dB]);
  }

  /** Pre-2025 official variant: Adam with LoRA-sized moments on the adjusted gradients. */
  private async efficientStep(p: LoraPair, gA: tf.Tensor2D, gB: tf.Tensor2D, lr: number): Promise<void> {
    const adj = await loraProGradients({ A: p.A, B: p.B, gradA: gA, gradB: gB, scale: p.scale, xMode: this.opts.xMode, damping: this.opts.damping });
    const dirA = adamDirection(adj.gradA, this.slots.get(`${p.aName}.exp_avg`, p.A.shape), this.slots.get(`${p.aName}.exp_avg_sq`, p.A.shape), this.t, this.h);
    const dirB = adamDirection(adj.gradB, this.slots.get(`${p.bName}.exp_avg`, p.B.shape), this.slots.get(`${p.bName}.exp_avg_sq`, p.B.shape), this.t, this.h);
    tf.dispose([adj.gradA, adj.gradB]);
    applyUpdate(p.A, dirA, lr, this.h.weightDecay);
    applyUpdate(p.B, dirB, lr, this.h.weightDecay);
    tf.dispose([dirA, dirB]);
  }

  /** Where the m×n moments live: outside the heap (`host`), else as heap slots. */
  get momentsOutsideHeap(): boolean {
    return this.host !== undefined;
  }

  override getState(): OptimizerState {
    const state = super.getState();
    return this.host ? { ...state, host: this.host.snapshot() } : state;
  }

  override setState(state: OptimizerState): void {
    if (this.host) this.host.restore(state.host ?? new Map(), new Map(this.pairs.map((p) => [p.module, [p.B.shape[0], p.A.shape[1]]] as const)), this.name);
    else if (state.host && state.host.size > 0) {
      // a checkpoint from a run with the moments outside the heap, resumed where they cannot be: heap slots
      const tensors = new Map(state.tensors);
      const made = [...state.host].map(([name, a]) => [name, tf.tensor(a.data, a.shape, 'float32')] as const);
      for (const [name, t] of made) tensors.set(name, t);
      try {
        super.setState({ step: state.step, tensors });
      } finally {
        tf.dispose(made.map(([, t]) => t));
      }
      return;
    }
    super.setState(state);
  }

  isHostSlot(name: string): boolean {
    return this.host !== undefined && this.pairs.some((p) => name === `${p.module}.exp_avg` || name === `${p.module}.exp_avg_sq`);
  }

  override dispose(): void {
    this.host?.dispose();
    super.dispose();
  }

  protected slotShapes(): Map<string, number[]> {
    const shapes = adamSlotShapes(this.others);
    for (const p of this.pairs) {
      if (this.mode === 'full' && this.host) continue; // outside the heap: restored by HostMoments
      if (this.mode === 'full') {
        const mn = [p.B.shape[0], p.A.shape[1]];
        shapes.set(`${p.module}.exp_avg`, mn).set(`${p.module}.exp_avg_sq`, mn);
      } else {
        adamSlotShapes(new Map([[p.aName, p.A], [p.bName, p.B]]), shapes);
      }
    }
    return shapes;
  }

}
