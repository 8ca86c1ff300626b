import { tf } from '../engine/tf.js';
import { loraProGradients, type XMode } from './lora-pro.js';
import { joinPairs } from './lora-pro-pairs.js';
import { disposeMap, prepareGradients, type LoraPair, type StepResult, SlottedOptimizer } from './optimizer.js';
import { sgdMomentum, sgdSlotShapes, sgdUpdate, type SGDOptions } from './sgd.js';

export interface LoraProSGDOptions extends SGDOptions {
  xMode?: XMode; // default 'sylvester'
  damping?: number; // default LORA_PRO_SGD_DAMPING
}

/**
 * δ of the damped inverses (BᵀB + δI)⁻¹ and (AAᵀ + δI)⁻¹ in LoRA-Pro SGD. Right after B leaves
 * zero its singular values σ are tiny, and A's step (1/s)·(BᵀB + δI)⁻¹·Bᵀ·g grows as σ/(σ² + δ),
 * at most 1/(2√δ): with the official code's δ = 1e-8 that is 5,000·|g|/s, and at SGD's rates (≈1)
 * the loss jumps (syllables at compare's defaults, lr 1: a divergence stop at step 12); with
 * δ = 1e-2 it is at most 5·|g|/s. Test accuracy at compare's defaults on the shipped base, lr 1
 * (`lorapro compare --model models/lorapro-base --task builtin:syllables --methods lora-pro-sgd
 * --lr 1 --damping D`, 2-core Xeon, 2026-12-03): syllables 61.2 / 70.2 / 71.2 / 72.8 / 64.8 % at
 * D = 1e-5 / 1e-4 / 1e-3 / 1e-2 / 1e-1 (majority 47.4); spam 78.4 / 79.6 / 82.2 % at
 * 1e-4 / 1e-3 / 1e-2 (majority 69.4). The AdamW modes keep 1e-8: their steps are Adam-normalised
 * and about 1000× smaller.
 */
export const LORA_PRO_SGD_DAMPING = 1e-2;

/**
 * LoRA-Pro SGD (paper Algorithm 1): each pair's gradients are replaced by the Theorem 2.1
 * adjustment with the Theorem 2.3 X, then A −= lr·gA, B −= lr·gB. Other trainable parameters
 * take a plain SGD step. Clipping (if any) acts on the raw gradients, before the adjustment.
 */
export class LoraProSGD extends SlottedOptimizer {
  readonly name = 'lora-pro-sgd';
  private readonly params: Map<string, tf.Variable>;
  private readonly momentum: number;

  constructor(
    private readonly pairs: readonly LoraPair[],
    others: ReadonlyMap<string, tf.Variable>,
    private readonly opts: LoraProSGDOptions,
  ) {
    super();
    this.momentum = sgdMomentum(opts, 'LoraProSGD');
    this.params = joinPairs(pairs, others, 'LoraProSGD');
  }

  async step(grads: ReadonlyMap<string, tf.Tensor>, lr = this.opts.lr): Promise<StepResult> {
    const prep = await prepareGradients(grads, this.params, this.opts, this.name);
    if (prep.grads === null) return { skipped: true, gradNorm: prep.gradNorm };
    this.t += 1;
    const g = prep.grads;
    for (const p of this.pairs) {
      const adj = await loraProGradients({
        A: p.A, B: p.B, gradA: g.get(p.aName) as tf.Tensor2D, gradB: g.get(p.bName) as tf.Tensor2D,
        scale: p.scale, xMode: this.opts.xMode, damping: this.opts.damping ?? LORA_PRO_SGD_DAMPING,
      });
      g.get(p.aName)!.dispose();
      g.get(p.bName)!.dispose();
      g.set(p.aName, adj.gradA);
      g.set(p.bName, adj.gradB);
    }
    const wd = this.opts.weightDecay ?? 0;
    for (const [name, v] of this.params) {
      const buf = this.momentum > 0 ? this.slots.get(`${name}.momentum_buffer`, v.shape) : undefined;
      sgdUpdate(v, g.get(name)!, lr, wd, this.momentum, buf);
    }
    disposeMap(g);
    return { skipped: false, gradNorm: prep.gradNorm };
  }

  protected slotShapes(): Map<string, number[]> {
    return sgdSlotShapes(this.params, this.momentum);
  }
}
