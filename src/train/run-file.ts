// run.json: what a run was trained with (the validated config, the label set, the effective max
// length, the backend and its matmul precision, a fingerprint of each data file). `eval`, `merge` and `generate` read it to
// rebuild the task; --resume checks that the settings that shape the numbers, and the data files'
// bytes, are unchanged.
import { engineName, matmulPrecision } from '../engine/backend.js';
import type { MatmulPrecision } from '../engine/native.js';
import { createReadStream, existsSync, realpathSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { tf } from '../engine/tf.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { readJsonFile } from '../io/json-file.js';
import { resumeKey, type LrChoice, type TrainConfig } from './config.js';
import { UsageError } from './errors.js';

export const RUN_FILE = 'run.json';

export interface RunFile {
  readonly version: 1;
  /** As asked for: `config.lr` may be 'auto' or 'recommended'; `learningRate.lr` is what it trained with. */
  readonly config: TrainConfig;
  readonly learningRate?: LrChoice;
  /** Classification label names in index order. */
  readonly labels?: string[];
  readonly maxLength: number;
  readonly backend: string;
  /** Products with frozen bf16 weights (--matmul-precision as it took effect); absent from run.json files written before it. */
  readonly matmul?: MatmulPrecision;
  readonly totalSteps?: number;
  readonly trainExamples: number;
  readonly evalExamples: number;
  /**
   * The path-valued settings as absolute real paths when the run started: config.model/train/eval
   * may be relative to a cwd --resume no longer has. Absent from run.json files written before it.
   */
  readonly paths?: RunPaths;
  /** Size and SHA-256 of the data files when the run started; absent for built-in tasks and older run.json files. */
  readonly data?: DataFingerprints;
}

/** A file's size and the SHA-256 of its bytes (hex). */
export interface Fingerprint {
  readonly bytes: number;
  readonly sha256: string;
}

export interface DataFingerprints {
  readonly train?: Fingerprint;
  readonly eval?: Fingerprint;
}

/** config.model, config.train and config.eval resolved; a `builtin:` train spec stays as written. */
export interface RunPaths {
  readonly model: string;
  readonly train: string;
  readonly eval?: string;
}

/** `p` as an absolute path, through symlinks when it exists (resolved against the current cwd). */
function realPath(p: string): string {
  const absolute = resolve(p);
  try {
    return realpathSync(absolute);
  } catch {
    return absolute;
  }
}

/** The run's paths as --resume compares them (a built-in task spec is not a path). */
export function runPaths(config: Pick<TrainConfig, 'model' | 'train' | 'eval'>): RunPaths {
  const train = config.train.startsWith('builtin:') ? config.train : realPath(config.train);
  return { model: realPath(config.model), train, ...(config.eval !== undefined ? { eval: realPath(config.eval) } : {}) };
}

/** The size and SHA-256 of the file at `path`, read in chunks. */
export async function fingerprint(path: string): Promise<Fingerprint> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { bytes: statSync(path).size, sha256: hash.digest('hex') };
}

/** Fingerprints of the run's data files (a `builtin:` spec is not a file). */
async function dataFingerprints(config: Pick<TrainConfig, 'train' | 'eval'>): Promise<DataFingerprints> {
  const train = config.train.startsWith('builtin:') ? undefined : await fingerprint(config.train);
  const evalPrint = config.eval === undefined ? undefined : await fingerprint(config.eval);
  return { ...(train ? { train } : {}), ...(evalPrint ? { eval: evalPrint } : {}) };
}

/** What writeRunFile reads of a prepared run (run-setup.ts's PreparedRun is one). */
export interface RunFileSource {
  readonly config: TrainConfig;
  readonly data: { readonly labels?: string[]; readonly train: { readonly length: number }; readonly eval: { readonly length: number } };
  readonly maxLength: number;
}

/** Writes run.json into `dir`; `requested` is the config as asked for and how its rate was chosen. */
export async function writeRunFile(run: RunFileSource, totalSteps: number | undefined, requested?: { config: TrainConfig; learningRate: LrChoice }, dir = run.config.out): Promise<void> {
  const { allowDataChange: _once, ...config } = requested?.config ?? run.config; // a permission for one --resume, not a setting
  const file: RunFile = {
    version: 1,
    config: config as TrainConfig,
    learningRate: requested?.learningRate ?? (await readRunFile(run.config.out))?.learningRate,
    labels: run.data.labels,
    maxLength: run.maxLength,
    backend: engineName(),
    matmul: matmulPrecision(),
    totalSteps,
    trainExamples: run.data.train.length,
    evalExamples: run.data.eval.length,
    paths: runPaths(run.config),
    data: await dataFingerprints(run.config),
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

/** resumeKey with the path-valued settings as resolved paths. */
function comparedSettings(config: TrainConfig, paths: RunPaths): Record<string, unknown> {
  // quantize: a run.json written before --quantize existed trained on the base as stored
  return { quantize: 'none', ...resumeKey(config), model: paths.model, train: paths.train, eval: paths.eval };
}

/**
 * Refuses --resume when the run in --out was started with settings that change the numbers. Paths
 * compare as real paths, so `models/gpt2`, its absolute path and a symlink to it are one setting.
 */
export async function checkResumable(config: TrainConfig): Promise<void> {
  const previous = await readRunFile(config.out);
  if (!previous) return;
  // A run.json without `paths` predates them: its relative paths can only be resolved against today's cwd.
  const before = comparedSettings(previous.config, previous.paths ?? runPaths(previous.config));
  const now = comparedSettings(config, runPaths(config));
  const keys = new Set([...Object.keys(before), ...Object.keys(now)]);
  const changed = [...keys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(now[k]));
  if (changed.length > 0) {
    const shown = changed.map((k) => `${k}: ${JSON.stringify(before[k])} → ${JSON.stringify(now[k])}`).join(', ');
    throw new UsageError(`--resume: the run in ${config.out} was started with different settings (${shown}); use the same options or another --out`);
  }
}

/**
 * Refuses --resume when a data file's bytes differ from those the run in --out started with (same
 * path, other content: rows removed, labels swapped), unless `config.allowDataChange`; then, and for
 * a run.json from before fingerprints, it warns through `log` and goes on.
 */
export async function checkDataUnchanged(config: TrainConfig, log: (line: string) => void): Promise<void> {
  const previous = await readRunFile(config.out);
  if (!previous) return;
  const files = { train: config.train.startsWith('builtin:') ? undefined : config.train, eval: config.eval };
  if (!previous.data) {
    const named = Object.values(files).filter((f) => f !== undefined);
    if (named.length > 0) log(`warning: ${join(config.out, RUN_FILE)} has no fingerprint of the data (written before lorapro recorded one), so --resume cannot check that ${named.join(' and ')} is unchanged`);
    return;
  }
  const changed: string[] = [];
  for (const role of ['train', 'eval'] as const) {
    const before = previous.data[role];
    const path = files[role];
    if (!before || path === undefined || !existsSync(path)) continue;
    const now = await fingerprint(path);
    if (now.sha256 !== before.sha256) changed.push(`--${role} ${path} (${before.bytes} bytes, sha256 ${before.sha256.slice(0, 12)}… when the run started; now ${now.bytes} bytes, ${now.sha256.slice(0, 12)}…)`);
  }
  if (changed.length === 0) return;
  const what = `the data changed since the run in ${config.out} started: ${changed.join('; ')}`;
  if (config.allowDataChange) return log(`warning: ${what}; continuing on the new data (--allow-data-change)`);
  throw new UsageError(`--resume: ${what}. Restore the file, start a new run in another --out, or pass --allow-data-change to continue on the new data`);
}
