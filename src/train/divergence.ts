// The divergence guard: a run whose training loss climbs far above where it started, or whose
// trainable weights blow up, is stopped with a message instead of training on to garbage (an lr of
// 1e6 leaves the loss flat while the weights reach 1e7, so the loss alone does not catch it).
import { tf } from '../engine/tf.js';

/** Loss above max(3 × start, start + 3 nats) on this many logged steps in a row stops the run. */
const LOSS_FACTOR = 3;
const LOSS_MARGIN = 3;
const LOSS_STRIKES = 3;
/** Weights whose global norm grows past 100× its value at the start stop the run at once. */
const NORM_FACTOR = 100;

export class DivergenceGuard {
  private startLoss: number | undefined;
  private strikes = 0;

  /** `startNorm`: the global norm of the trainable weights when the loop starts. */
  constructor(private readonly startNorm: number) {}

  /** Why the run is diverging at this logged step, or undefined while it is not. */
  check(loss: number, weightNorm: number): string | undefined {
    const normLimit = NORM_FACTOR * Math.max(this.startNorm, 1e-3);
    if (!Number.isFinite(weightNorm) || weightNorm > normLimit) {
      return `the trainable weights' norm grew from ${fmt(this.startNorm)} to ${fmt(weightNorm)} (over ${NORM_FACTOR}×)`;
    }
    if (!Number.isFinite(loss)) return undefined; // the trainer's non-finite check reports it
    if (this.startLoss === undefined) {
      this.startLoss = loss;
      return undefined;
    }
    const limit = Math.max(LOSS_FACTOR * this.startLoss, this.startLoss + LOSS_MARGIN);
    this.strikes = loss > limit ? this.strikes + 1 : 0;
    if (this.strikes >= LOSS_STRIKES) return `the training loss rose from ${fmt(this.startLoss)} to ${fmt(loss)} (above ${fmt(limit)} for ${LOSS_STRIKES} logged steps)`;
    return undefined;
  }
}

const fmt = (v: number): string => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(3));

/**
 * Why a fresh run's first step had a loss that is not finite. No update had been applied and the
 * weights were checked finite at load (io/float-weights.ts), so the learning rate is not the cause:
 * the forward pass overflows float32 on this data. Names the largest weight, the usual culprit.
 */
export async function firstStepMessage(what: string, params: ReadonlyMap<string, tf.Variable>): Promise<string> {
  let largest = { name: '', value: 0 };
  for (const [name, p] of params) {
    const max = tf.tidy(() => tf.max(tf.abs(p)));
    const value = (await max.data())[0];
    max.dispose();
    if (value > largest.value) largest = { name, value };
  }
  const where = largest.name ? `; its largest |weight| ${largest.value.toExponential(2)} in ${largest.name}` : '';
  return `step 1: ${what}, at the first step, before any update, so the learning rate is not the cause: the weights are finite (checked at load), but the model's forward pass on this data overflows float32${where}. Check the model's weights and config.json (a norm epsilon of 0, a scale far from 1), or that the data fits the model.`;
}
