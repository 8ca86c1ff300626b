// run.json: what a run was trained with (the validated config, the label set, the effective max
// length, the backend). `eval`, `merge` and `generate` read it to rebuild the task; --resume checks
// that the settings that shape the numbers are unchanged.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { readJsonFile } from '../io/json-file.js';
import { resumeKey, type TrainConfig } from './run-config.js';
import { UsageError } from './run-errors.js';
import type { PreparedRun } from './run-setup.js';

export const RUN_FILE = 'run.json';

export interface RunFile {
  readonly version: 1;
  readonly config: TrainConfig;
  /** Classification label names in index order. */
  readonly labels?: string[];
  readonly maxLength: number;
  readonly backend: string;
  readonly totalSteps?: number;
  readonly trainExamples: number;
  readonly evalExamples: number;
}

export async function writeRunFile(run: PreparedRun, totalSteps: number | undefined, dir = run.config.out): Promise<void> {
  const file: RunFile = {
    version: 1,
    config: run.config,
    labels: run.data.labels,
    maxLength: run.maxLength,
    backend: tf.getBackend(),
    totalSteps,
    trainExamples: run.data.train.length,
    evalExamples: run.data.eval.length,
  };
  await writeJsonAtomic(join(dir, RUN_FILE), file);
}

/** The run.json in `dir`, or undefined when there is none. */
export async function readRunFile(dir: string): Promise<RunFile | undefined> {
  const path = join(dir, RUN_FILE);
  if (!existsSync(path)) return undefined;
  const file = (await readJsonFile(path)) as RunFile;
  if (file?.version !== 1 || typeof file.config !== 'object') throw new UsageError(`${path} is not a lorapro run file (version 1)`);
  return file;
}

/** Refuses --resume when the run in --out was started with settings that change the numbers. */
export async function checkResumable(config: TrainConfig): Promise<void> {
  const previous = await readRunFile(config.out);
  if (!previous) return;
  const before = resumeKey(previous.config);
  const now = resumeKey(config);
  const keys = new Set([...Object.keys(before), ...Object.keys(now)]);
  const changed = [...keys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(now[k]));
  if (changed.length > 0) {
    const shown = changed.map((k) => `${k}: ${JSON.stringify(before[k])} → ${JSON.stringify(now[k])}`).join(', ');
    throw new UsageError(`--resume: the run in ${config.out} was started with different settings (${shown}); use the same options or another --out`);
  }
}
