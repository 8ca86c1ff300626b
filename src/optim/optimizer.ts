// The optimiser interface shared by every method, and the gradient preparation they all run first
// (completeness check, one global norm, non-finite handling, clipping).
import { tf } from '../engine/tf.js';

/** A LoRA adapter's two factors, paired by module (never by position). */
export interface LoraPair {
  module: string; // e.g. "model.layers.0.self_attn.q_proj"
  aName: string; // parameter name of A [r, in]
  bName: string; // parameter name of B [out, r]
  A: tf.Variable<tf.Rank.R2>;
  B: tf.Variable<tf.Rank.R2>;
  scale: number; // the adapter's own s = alpha / r (or alpha / sqrt(r))
}

/** A slot held outside TF.js (a Node Float32Array), e.g. LoRA-Pro full mode's moments off the wasm heap. */
export interface HostArray {
  shape: number[];
  data: Float32Array;
}

export interface OptimizerState {
  step: number;
  tensors: Map<string, tf.Tensor>; // slot name ("<param>.exp_avg") → value
  /** Slots kept outside TF.js, by the same kind of name; checkpoints store both alike. */
  host?: Map<string, HostArray>;
}

export interface StepResult {
  /** True when the gradients were not finite and `onNonFinite` is 'skip'. */
  skipped: boolean;
  /** Global L2 norm of the raw gradients, before clipping. */
  gradNorm: number;
}

export interface Optimizer {
  readonly name: string;
  /** Applies one update. `grads` maps parameter names to gradients; they are read, not disposed. */
  step(grads: ReadonlyMap<string, tf.Tensor>, lr?: number): Promise<StepResult>;
  /** A copy of the state (the caller disposes it), keyed by stable parameter names. */
  getState(): OptimizerState;
  setState(state: OptimizerState): void;
  /** Whether a checkpoint's slot `name` goes back into `host` (not into tensors) on setState. */
  isHostSlot?(name: string): boolean;
  dispose(): void;
}

export interface CommonOptions {
  lr: number;
  weightDecay?: number; // decoupled (AdamW-style), default 0
  /** Clip the global norm of the raw gradients (before any LoRA-Pro adjustment, as the official code). */
  clipNorm?: number;
  /** What a NaN/Inf gradient does: throw (default) or skip the step leaving parameters and state untouched. */
  onNonFinite?: 'error' | 'skip';
}

export function checkCommonOptions(o: CommonOptions, who: string): void {
  if (!(Number.isFinite(o.lr) && o.lr >= 0)) throw new Error(`${who}: lr must be a finite number ≥ 0, got ${o.lr}`);
  if (o.weightDecay !== undefined && !(Number.isFinite(o.weightDecay) && o.weightDecay >= 0)) throw new Error(`${who}: weightDecay must be ≥ 0, got ${o.weightDecay}`);
  if (o.clipNorm !== undefined && !(o.clipNorm > 0)) throw new Error(`${who}: clipNorm must be > 0, got ${o.clipNorm}`);
  if (o.onNonFinite !== undefined && o.onNonFinite !== 'error' && o.onNonFinite !== 'skip') throw new Error(`${who}: onNonFinite must be "error" or "skip", got "${o.onNonFinite}"`);
}

/**
 * Checks that `grads` has exactly the expected names and shapes, measures the global norm once
 * (the step's only read-back, asynchronous: webgpu in a worker has no working synchronous
 * read-back), and returns the gradients to use (clipped copies the caller disposes) or null when
 * a non-finite gradient is to be skipped. With `applyFactor` false the copies stay unclipped and the
 * caller applies `factor` itself (AdamW's native kernel does it in its one pass).
 */
export async function prepareGradients(
  grads: ReadonlyMap<string, tf.Tensor>,
  params: ReadonlyMap<string, tf.Variable>,
  opts: CommonOptions,
  who: string,
  applyFactor = true,
): Promise<{ grads: Map<string, tf.Tensor> | null; gradNorm: number; factor: number }> {
  for (const [name, p] of params) {
    const g = grads.get(name);
    if (g === undefined) throw new Error(`${who}: no gradient for parameter "${name}"`);
    if (g.shape.join() !== p.shape.join()) throw new Error(`${who}: gradient for "${name}" has shape [${g.shape}], parameter has [${p.shape}]`);
  }
  for (const name of grads.keys()) {
    if (!params.has(name)) throw new Error(`${who}: gradient for unknown parameter "${name}"`);
  }
  const names = [...params.keys()];
  const sq = tf.tidy(() => tf.addN(names.map((n) => tf.sum(tf.square(grads.get(n)!)))));
  const gradNorm = Math.sqrt((await sq.data())[0]);
  sq.dispose();
  if (!Number.isFinite(gradNorm)) {
    if (opts.onNonFinite === 'skip') return { grads: null, gradNorm, factor: 1 };
    let bad: string | undefined;
    for (const n of names) {
      const finite = tf.tidy(() => tf.all(tf.isFinite(grads.get(n)!)));
      const ok = (await finite.data())[0];
      finite.dispose();
      if (!ok) {
        bad = n;
        break;
      }
    }
    const where = bad !== undefined ? `in "${bad}"` : '(each gradient is finite but their squared norm overflows float32)';
    throw new Error(`${who}: non-finite gradient (global norm ${gradNorm}) ${where}; set onNonFinite: 'skip' to skip such steps`);
  }
  const factor = opts.clipNorm !== undefined && gradNorm > opts.clipNorm ? opts.clipNorm / (gradNorm + 1e-6) : 1;
  const out = new Map<string, tf.Tensor>();
  for (const n of names) out.set(n, factor === 1 || !applyFactor ? tf.clone(grads.get(n)!) : tf.tidy(() => tf.mul(grads.get(n)!, factor)));
  return { grads: out, gradNorm, factor };
}

/** Named optimiser slots (moments, momentum buffers) with checkpointable get/set. */
export class Slots {
  private readonly vars = new Map<string, tf.Variable>();

  /** Returns the slot, creating it as zeros of `shape` the first time. */
  get(name: string, shape: number[]): tf.Variable {
    let v = this.vars.get(name);
    if (v === undefined) {
      const zeros = tf.zeros(shape, 'float32');
      v = tf.variable(zeros, false, `slot/${name}/${Math.random().toString(36).slice(2)}`);
      zeros.dispose(); // tf.variable copies; the initial value would otherwise hold a second buffer
      this.vars.set(name, v);
    }
    return v;
  }

  snapshot(): Map<string, tf.Tensor> {
    return new Map([...this.vars].map(([k, v]) => [k, tf.clone(v)]));
  }

  /** Replaces every slot with the given values; each name is created or overwritten. */
  restore(tensors: ReadonlyMap<string, tf.Tensor>, expected: ReadonlyMap<string, number[]>, who: string): void {
    for (const [name, t] of tensors) {
      const shape = expected.get(name);
      if (shape === undefined) throw new Error(`${who}: state has unknown slot "${name}"`);
      if (t.shape.join() !== shape.join()) throw new Error(`${who}: state slot "${name}" has shape [${t.shape}], expected [${shape}]`);
    }
    this.dispose();
    for (const [name, t] of tensors) this.get(name, t.shape).assign(t);
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

/** Step counter and named slots with checkpointable state: what every optimiser here shares. */
export abstract class SlottedOptimizer implements Optimizer {
  abstract readonly name: string;
  protected readonly slots = new Slots();
  protected t = 0;

  abstract step(grads: ReadonlyMap<string, tf.Tensor>, lr?: number): Promise<StepResult>;

  /** Every slot this optimiser may hold, with its shape (for validating restored state). */
  protected abstract slotShapes(): Map<string, number[]>;

  getState(): OptimizerState {
    return { step: this.t, tensors: this.slots.snapshot() };
  }

  setState(state: OptimizerState): void {
    this.slots.restore(state.tensors, this.slotShapes(), this.name);
    this.t = state.step;
  }

  dispose(): void {
    this.slots.dispose();
  }
}

export function disposeMap(m: Map<string, tf.Tensor> | null): void {
  if (m) for (const t of m.values()) t.dispose();
}
