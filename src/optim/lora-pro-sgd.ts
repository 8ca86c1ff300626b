import { tf } from '../engine/tf.js';
import { loraProGradients, type XMode } from './lora-pro.js';
import { joinPairs } from './lora-pro-pairs.js';
import { disposeMap, prepareGradients, type LoraPair, type StepResult , SlottedOptimizer } from './optimizer.js';
import { sgdMomentum, sgdSlotShapes, sgdUpdate, type SGDOptions } from './sgd.js';

export interface LoraProSGDOptions extends SGDOptions {
  xMode?: XMode; // default 'sylvester'
  damping?: number; // default 1e-8
}

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
        scale: p.scale, xMode: this.opts.xMode, damping: this.opts.damping,
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
