import { tf } from '../engine/tf.js';
import { nativeAdam, nativeOpsOn } from '../engine/fused.js';
import { checkCommonOptions, disposeMap, prepareGradients, type CommonOptions, type StepResult , Slots, SlottedOptimizer } from './optimizer.js';

export interface AdamHyper {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamWOptions extends CommonOptions {
  beta1?: number; // default 0.9
  beta2?: number; // default 0.999
  eps?: number; // default 1e-8
  /** Per-parameter learning-rate multipliers (LoRA+ uses it for B). */
  lrScale?: ReadonlyMap<string, number>;
}

export function adamHyper(o: AdamWOptions, who: string): AdamHyper {
  checkCommonOptions(o, who);
  const h = { beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? 0 };
  for (const k of ['beta1', 'beta2'] as const) if (!(h[k] >= 0 && h[k] < 1)) throw new Error(`${who}: ${k} must be in [0, 1), got ${h[k]}`);
  if (!(h.eps > 0)) throw new Error(`${who}: eps must be > 0, got ${h.eps}`);
  return h;
}

/**
 * Adam moments for one step t (counted from 1): m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², and the
 * bias-corrected direction m̂ / (sqrt(v̂) + ε). The moments are updated in place; the direction is
 * returned (the caller disposes it).
 */
export function adamDirection(g: tf.Tensor, m: tf.Variable, v: tf.Variable, t: number, h: AdamHyper): tf.Tensor {
  if (fusedAdamOn(g)) {
    const [dir, m1, v1] = nativeAdam({ g, m, v }, adamAttrs(t, h, 1, 0, 1));
    assignAndDispose([m, m1], [v, v1]);
    return dir;
  }
  return tf.tidy(() => {
    const m1 = tf.add(tf.mul(m, h.beta1), tf.mul(g, 1 - h.beta1));
    const v1 = tf.add(tf.mul(v, h.beta2), tf.mul(tf.square(g), 1 - h.beta2));
    m.assign(m1);
    v.assign(v1);
    const bc1 = 1 - h.beta1 ** t;
    const bc2 = 1 - h.beta2 ** t;
    return tf.div(tf.div(m1, bc1), tf.add(tf.div(tf.sqrt(v1), Math.sqrt(bc2)), h.eps));
  });
}

/** p ← p·(1 − lr·wd) − lr·direction (decoupled weight decay, as PyTorch's AdamW). */
export function applyUpdate(p: tf.Variable, direction: tf.Tensor, lr: number, weightDecay: number): void {
  tf.tidy(() => {
    const decayed = weightDecay > 0 ? tf.mul(p, 1 - lr * weightDecay) : p;
    p.assign(tf.sub(decayed, tf.mul(direction, lr)));
  });
}

/** On the native engine a whole AdamW step is one kernel call per parameter (engine/fused.ts). */
function fusedAdamOn(g: tf.Tensor): boolean {
  return g.dtype === 'float32' && nativeOpsOn();
}

/** The native kernel's constants, each the scalar the op-by-op route makes (the same float32 roundings). */
function adamAttrs(t: number, h: AdamHyper, gScale: number, lr: number, decay: number) {
  return { gScale, beta1: h.beta1, beta2: h.beta2, eps: h.eps, bc1: 1 - h.beta1 ** t, sqrtBc2: Math.sqrt(1 - h.beta2 ** t), lr, decay };
}

function assignAndDispose(...pairs: [tf.Variable, tf.Tensor][]): void {
  for (const [variable, value] of pairs) {
    variable.assign(value);
    value.dispose(); // the variable keeps its own reference
  }
}

/** Adam slot shapes for a set of parameters: "<name>.exp_avg" and "<name>.exp_avg_sq". */
export function adamSlotShapes(params: ReadonlyMap<string, tf.Variable>, out = new Map<string, number[]>()): Map<string, number[]> {
  for (const [n, p] of params) {
    out.set(`${n}.exp_avg`, p.shape);
    out.set(`${n}.exp_avg_sq`, p.shape);
  }
  return out;
}

/**
 * Updates every parameter of `params` with AdamW using its own moments in `slots`, on gradients times
 * `gScale` (the clipping factor, folded into the native kernel's one pass).
 */
export function adamwStep(params: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>, slots: Slots, t: number, lr: number, h: AdamHyper, lrScale?: ReadonlyMap<string, number>, gScale = 1): void {
  for (const [name, p] of params) {
    const m = slots.get(`${name}.exp_avg`, p.shape);
    const v = slots.get(`${name}.exp_avg_sq`, p.shape);
    const g = grads.get(name)!;
    const pLr = lr * (lrScale?.get(name) ?? 1);
    if (fusedAdamOn(g) && p.dtype === 'float32') {
      const [p1, m1, v1] = nativeAdam({ p, g, m, v }, adamAttrs(t, h, gScale, pLr, h.weightDecay > 0 ? 1 - pLr * h.weightDecay : 1));
      assignAndDispose([p, p1], [m, m1], [v, v1]);
      continue;
    }
    const scaled = gScale === 1 ? g : tf.mul(g, gScale);
    const dir = adamDirection(scaled, m, v, t, h);
    if (scaled !== g) scaled.dispose();
    applyUpdate(p, dir, pLr, h.weightDecay);
    dir.dispose();
  }
}

/**
 * AdamW (Loshchilov & Hutter) with PyTorch's semantics, for full fine-tuning and plain LoRA.
 *
 * @example
 *   const opt = new AdamW(model.trainableParameters(), { lr: 1e-3, weightDecay: 0.01 });
 *   await opt.step(grads);
 */
export class AdamW extends SlottedOptimizer {
  readonly name: string = 'adamw';
  protected readonly h: AdamHyper;

  constructor(
    protected readonly params: ReadonlyMap<string, tf.Variable>,
    protected readonly opts: AdamWOptions,
  ) {
    super();
    this.h = adamHyper(opts, 'AdamW');
    for (const [name, s] of opts.lrScale ?? []) {
      if (!params.has(name)) throw new Error(`AdamW: lrScale names unknown parameter "${name}"`);
      if (!(s > 0)) throw new Error(`AdamW: lrScale for "${name}" must be > 0, got ${s}`);
    }
  }

  async step(grads: ReadonlyMap<string, tf.Tensor>, lr = this.opts.lr): Promise<StepResult> {
    // The native kernel scales the gradients by the clipping factor in its pass: no Multiply per gradient.
    const fused = nativeOpsOn();
    const prep = await prepareGradients(grads, this.params, this.opts, this.name, !fused);
    if (prep.grads === null) return { skipped: true, gradNorm: prep.gradNorm };
    this.t += 1;
    adamwStep(this.params, prep.grads, this.slots, this.t, lr, this.h, this.opts.lrScale, fused ? prep.factor : 1);
    disposeMap(prep.grads);
    return { skipped: false, gradNorm: prep.gradNorm };
  }

  protected slotShapes(): Map<string, number[]> {
    return adamSlotShapes(this.params);
  }
}
