// The divergence guard: a run whose training loss climbs far above where it started, or whose
// trainable weights blow up, is stopped with a message instead of training on to garbage (an lr of
// 1e6 leaves the loss flat while the weights reach 1e7, so the loss alone does not catch it).

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
