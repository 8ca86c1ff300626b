import { tf } from '../engine/tf.js';
import { checkCommonOptions, disposeMap, prepareGradients, type CommonOptions, type StepResult , SlottedOptimizer } from './optimizer.js';

export interface SGDOptions extends CommonOptions {
  momentum?: number; // default 0 (no buffer)
}

/** p ← p·(1 − lr·wd) − lr·buf, buf ← μ·buf + g (buf = g without momentum). */
export function sgdUpdate(p: tf.Variable, g: tf.Tensor, lr: number, weightDecay: number, momentum: number, buf?: tf.Variable): void {
  tf.tidy(() => {
    let dir = g;
    if (momentum > 0 && buf) {
      dir = tf.add(tf.mul(buf, momentum), g);
      buf.assign(dir);
    }
    const decayed = weightDecay > 0 ? tf.mul(p, 1 - lr * weightDecay) : p;
    p.assign(tf.sub(decayed, tf.mul(dir, lr)));
  });
}

export function sgdMomentum(o: SGDOptions, who: string): number {
  checkCommonOptions(o, who);
  const mu = o.momentum ?? 0;
  if (!(mu >= 0 && mu < 1)) throw new Error(`${who}: momentum must be in [0, 1), got ${mu}`);
  return mu;
}

export function sgdSlotShapes(params: ReadonlyMap<string, tf.Variable>, momentum: number, out = new Map<string, number[]>()): Map<string, number[]> {
  if (momentum > 0) for (const [n, p] of params) out.set(`${n}.momentum_buffer`, p.shape);
  return out;
}

/** Stochastic gradient descent with optional momentum and decoupled weight decay. */
export class SGD extends SlottedOptimizer {
  readonly name = 'sgd';
  private readonly momentum: number;

  constructor(
    private readonly params: ReadonlyMap<string, tf.Variable>,
    private readonly opts: SGDOptions,
  ) {
    super();
    this.momentum = sgdMomentum(opts, 'SGD');
  }

  async step(grads: ReadonlyMap<string, tf.Tensor>, lr = this.opts.lr): Promise<StepResult> {
    const prep = await prepareGradients(grads, this.params, this.opts, this.name);
    if (prep.grads === null) return { skipped: true, gradNorm: prep.gradNorm };
    this.t += 1;
    for (const [name, p] of this.params) {
      const buf = this.momentum > 0 ? this.slots.get(`${name}.momentum_buffer`, p.shape) : undefined;
      sgdUpdate(p, prep.grads.get(name)!, lr, this.opts.weightDecay ?? 0, this.momentum, buf);
    }
    disposeMap(prep.grads);
    return { skipped: false, gradNorm: prep.gradNorm };
  }

  protected slotShapes(): Map<string, number[]> {
    return sgdSlotShapes(this.params, this.momentum);
  }
}
