// metrics.jsonl: one JSON object per logged step, appended as the run goes, cut back to the
// checkpoint's step when a run resumes (so a killed run's extra lines do not appear twice).
import { appendFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { writeTextAtomic } from '../io/atomic.js';
import type { EvalMetrics } from './evaluate.js';
import type { LayerDiagnostic } from './diagnostics.js';

export const METRICS_FILE = 'metrics.jsonl';

export interface MetricsLine {
  readonly step: number;
  readonly epoch: number; // fractional: micro-batches consumed / batches per epoch
  readonly loss: number; // mean training loss over the steps since the previous line
  readonly lr: number;
  readonly gradNorm: number; // of the last step, before clipping
  readonly tokens: number; // real tokens trained on so far
  readonly tokensPerSec: number;
  readonly elapsedS: number;
  readonly peakTensorBytes: number; // largest tf.memory().numBytes seen so far (sampled while gradients are held)
  readonly peakRssBytes: number; // largest process.memoryUsage().rss seen so far
  readonly eval?: EvalMetrics;
  readonly diagnostic?: LayerDiagnostic[];
  /** Set on the last line of a run that stopped early, with the reason. */
  readonly stopped?: string;
}

export async function appendMetrics(path: string, line: MetricsLine): Promise<void> {
  try {
    await appendFile(path, `${JSON.stringify(line)}\n`);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (typeof err?.code === 'string' && err.path === undefined) err.path = path; // a failed write names no file (ENOSPC)
    throw e;
  }
}

/** Every line of a metrics file ([] when there is none). */
export async function readMetrics(path: string): Promise<MetricsLine[]> {
  if (!existsSync(path)) return [];
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as MetricsLine];
      } catch {
        return []; // a line cut short by a kill
      }
    });
}

/** Keeps the lines up to `step` (what the checkpoint being resumed had logged). */
export async function truncateMetrics(path: string, step: number): Promise<void> {
  const kept = (await readMetrics(path)).filter((l) => l.step <= step);
  await writeTextAtomic(path, kept.map((l) => `${JSON.stringify(l)}\n`).join(''));
}
