// Training progress: a live cli-progress bar on a terminal (step, loss, learning rate, tokens/s,
// ETA), plain log lines otherwise (files, CI, pipes). Everything goes to stderr so stdout stays
// free for results (`eval --json`).
import cliProgress from 'cli-progress';

export interface ProgressValues {
  readonly step: number;
  readonly loss?: number;
  readonly lr: number;
  readonly tokensPerSec: number;
}

export interface Progress {
  start(total: number, startStep: number): void;
  update(v: ProgressValues): void;
  /** A message that must not be overwritten by the bar. */
  log(line: string): void;
  stop(): void;
}

const fmtLoss = (loss: number | undefined): string => (loss === undefined ? '-' : loss.toFixed(4));
const fmtLr = (lr: number): string => lr.toExponential(2);
const fmtRate = (tps: number): string => (Number.isFinite(tps) ? Math.round(tps).toString() : '-');

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** A live bar (cli-progress) for terminals. */
class BarProgress implements Progress {
  private readonly multi: cliProgress.MultiBar;
  private bar: cliProgress.SingleBar | undefined;

  constructor(private readonly stream: NodeJS.WriteStream) {
    this.multi = new cliProgress.MultiBar(
      {
        stream,
        format: 'step {value}/{total} |{bar}| loss {loss} | lr {lr} | {tps} tok/s | ETA {eta_formatted}',
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  start(total: number, startStep: number): void {
    this.bar = this.multi.create(total, startStep, { loss: '-', lr: '-', tps: '-' });
  }

  update(v: ProgressValues): void {
    this.bar?.update(v.step, { loss: fmtLoss(v.loss), lr: fmtLr(v.lr), tps: fmtRate(v.tokensPerSec) });
  }

  /** Above the bar while it runs (cli-progress buffers the line until its next redraw, forced here). */
  log(line: string): void {
    if (!this.bar) {
      this.stream.write(`${line}\n`);
      return;
    }
    this.multi.log(`${line}\n`);
    this.multi.update();
  }

  stop(): void {
    if (!this.bar) return;
    this.multi.stop();
    this.bar = undefined;
  }
}

/** One line per update, at most one every `minIntervalMs` (the first and the last always). */
class LineProgress implements Progress {
  private total = 0;
  private startStep = 0;
  private startTime = 0;
  private lastPrint = -Infinity;

  constructor(
    private readonly write: (line: string) => void,
    private readonly minIntervalMs: number,
  ) {}

  start(total: number, startStep: number): void {
    this.total = total;
    this.startStep = startStep;
    this.startTime = performance.now();
  }

  update(v: ProgressValues): void {
    const now = performance.now();
    if (v.step !== this.total && v.step !== this.startStep + 1 && now - this.lastPrint < this.minIntervalMs) return;
    this.lastPrint = now;
    const perStep = (now - this.startTime) / 1000 / Math.max(1, v.step - this.startStep);
    const eta = formatDuration(perStep * (this.total - v.step));
    this.write(`step ${v.step}/${this.total} loss ${fmtLoss(v.loss)} lr ${fmtLr(v.lr)} ${fmtRate(v.tokensPerSec)} tok/s ETA ${eta}`);
  }

  log(line: string): void {
    this.write(line);
  }

  stop(): void {}
}

/** Progress that prints nothing (library use, tests). */
export const silentProgress: Progress = { start() {}, update() {}, log() {}, stop() {} };

/**
 * A bar when `stream` is a terminal, else plain lines (at most one every 2 s by default).
 *
 * @example
 *   const progress = createProgress(process.stderr);
 */
export function createProgress(stream: NodeJS.WriteStream = process.stderr, opts: { minIntervalMs?: number } = {}): Progress {
  if (stream.isTTY) return new BarProgress(stream);
  return new LineProgress((line) => stream.write(`${line}\n`), opts.minIntervalMs ?? 2000);
}
