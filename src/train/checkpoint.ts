// Training checkpoints: one folder per saved step, `checkpoints/step-000120/`, holding
//   trainable.safetensors   every trainable parameter by Hugging Face name (float32, exact)
//   optimizer.safetensors   the optimiser's slots by stable name (moments, momentum buffers)
//   state.json              step, optimiser step, data position, RNG states, best-so-far, log window
// A folder is written under a temporary name and renamed into place, so a kill at any moment
// leaves either the complete checkpoint or none; the newest complete one is what --resume uses. One
// damaged later (truncated, bad JSON, a file gone) is skipped with a warning for the one before it,
// which pruning keeps until a newer one is complete (--keep-checkpoints is at least 1, plus the new).
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { tf } from '../engine/tf.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { readJsonFile } from '../io/json-file.js';
import { InputFileError } from '../io/input-error.js';
import { readSafetensors, tensorsToWrite, toFloat32, writeSafetensors, type SafetensorsFile } from '../io/safetensors.js';
import type { HostArray, Optimizer } from '../optim/optimizer.js';
import type { DataPosition } from '../data/batch.js';

export const TRAINABLE_FILE = 'trainable.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'state.json';

export interface BestRecord {
  readonly step: number;
  readonly metric: string;
  readonly value: number;
}

/** Everything besides tensors that the loop needs to continue exactly where it stopped. */
export interface CheckpointState {
  readonly step: number; // optimiser updates done
  readonly optimizer: { readonly name: string; readonly step: number };
  readonly position: DataPosition; // the next micro-batch
  readonly rng: readonly number[]; // uint32 states of the dropout RNGs
  readonly tokens: number; // real tokens trained on so far
  readonly elapsedS: number; // training time before this checkpoint
  readonly best?: BestRecord;
}

const STEP_DIR = /^step-(\d+)$/;
export const checkpointName = (step: number): string => `step-${String(step).padStart(6, '0')}`;

/**
 * Writes a checkpoint folder for `state.step` under `root` atomically and returns its path.
 * A checkpoint already there for that step is replaced.
 */
export async function saveCheckpoint(root: string, params: ReadonlyMap<string, tf.Variable>, optimizer: Optimizer, state: Omit<CheckpointState, 'optimizer'>): Promise<string> {
  await mkdir(root, { recursive: true });
  const final = join(root, checkpointName(state.step));
  const temp = join(root, `.tmp-${checkpointName(state.step)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(temp);
  const opt = optimizer.getState();
  try {
    await writeSafetensors(join(temp, TRAINABLE_FILE), await tensorsToWrite(new Map(params)));
    const host = Object.fromEntries([...(opt.host ?? [])].map(([name, a]) => [name, { dtype: 'F32' as const, shape: a.shape, data: a.data }]));
    await writeSafetensors(join(temp, OPTIMIZER_FILE), { ...(await tensorsToWrite(opt.tensors)), ...host });
    await writeJsonAtomic(join(temp, STATE_FILE), { ...state, optimizer: { name: optimizer.name, step: opt.step } });
    await rm(final, { recursive: true, force: true });
    await rename(temp, final);
  } catch (e) {
    await rm(temp, { recursive: true, force: true });
    throw e;
  } finally {
    tf.dispose([...opt.tensors.values()]);
  }
  return final;
}

/** Steps of the complete checkpoints under `root`, ascending. */
export async function checkpointSteps(root: string): Promise<number[]> {
  if (!existsSync(root)) return [];
  const steps: number[] = [];
  for (const name of await readdir(root)) {
    const m = STEP_DIR.exec(name);
    if (m && existsSync(join(root, name, STATE_FILE))) steps.push(Number(m[1]));
  }
  return steps.sort((a, b) => a - b);
}

/** The newest complete checkpoint folder under `root`, if any. */
export async function latestCheckpoint(root: string): Promise<string | undefined> {
  const steps = await checkpointSteps(root);
  return steps.length ? join(root, checkpointName(steps[steps.length - 1])) : undefined;
}

/** Removes folders of interrupted writes and all but the newest `keep` checkpoints (and `protect`). */
export async function pruneCheckpoints(root: string, keep: number, protect: readonly number[] = []): Promise<void> {
  if (!existsSync(root)) return;
  for (const name of await readdir(root)) if (name.startsWith('.tmp-')) await rm(join(root, name), { recursive: true, force: true });
  const steps = await checkpointSteps(root);
  for (const step of steps.slice(0, Math.max(0, steps.length - keep))) {
    if (!protect.includes(step)) await rm(join(root, checkpointName(step)), { recursive: true, force: true });
  }
}

/** A checkpoint that cannot be read as written: a file missing, truncated or malformed. */
export class CorruptCheckpointError extends InputFileError {
  constructor(file: string, reason: string) {
    super(file, `${file}: ${reason}`);
    this.name = 'CorruptCheckpointError';
  }
}

/** A checkpoint's files, read and parsed but not yet applied to a model. */
interface CheckpointFiles {
  readonly dir: string;
  readonly state: CheckpointState;
  readonly trainable: SafetensorsFile;
  readonly optimizer: SafetensorsFile;
}

/** Reads one safetensors file of a checkpoint; anything unreadable is a CorruptCheckpointError naming it. */
async function readPart(path: string): Promise<SafetensorsFile> {
  try {
    return await readSafetensors(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CorruptCheckpointError(path, code === 'ENOENT' ? 'missing' : (e as Error).message.replace(`${path}: `, ''));
  }
}

/** Reads every file of the checkpoint in `dir`, checking each parses, before anything is applied. */
async function readCheckpointFiles(dir: string): Promise<CheckpointFiles> {
  const statePath = join(dir, STATE_FILE);
  let state: CheckpointState;
  try {
    state = (await readJsonFile(statePath)) as CheckpointState;
  } catch (e) {
    throw new CorruptCheckpointError(statePath, (e as Error).message.replace(`${statePath}: `, ''));
  }
  if (!Number.isInteger(state?.step) || typeof state.optimizer?.name !== 'string' || !Number.isInteger(state.optimizer.step) || typeof state.position !== 'object' || !Array.isArray(state.rng)) {
    throw new CorruptCheckpointError(statePath, 'not a checkpoint state (step, optimizer, position and rng are required)');
  }
  return { dir, state, trainable: await readPart(join(dir, TRAINABLE_FILE)), optimizer: await readPart(join(dir, OPTIMIZER_FILE)) };
}

/** Copies a checkpoint's trainable weights into `params`; every name must be there with its shape. */
export async function loadTrainable(dir: string, params: ReadonlyMap<string, tf.Variable>): Promise<void> {
  assignTrainable(join(dir, TRAINABLE_FILE), await readPart(join(dir, TRAINABLE_FILE)), params);
}

function assignTrainable(path: string, file: SafetensorsFile, params: ReadonlyMap<string, tf.Variable>): void {
  const missing = [...params.keys()].filter((n) => !file.tensors.has(n));
  const extra = [...file.tensors.keys()].filter((n) => !params.has(n));
  if (missing.length || extra.length) {
    throw new Error(`${path} does not match this run's trainable parameters (missing: ${missing.join(', ') || 'none'}; unexpected: ${extra.join(', ') || 'none'})`);
  }
  for (const [name, v] of params) {
    const raw = file.tensors.get(name)!;
    if (raw.shape.join() !== v.shape.join()) throw new Error(`${path}: "${name}" has shape [${raw.shape}], the model has [${v.shape}]`);
    tf.tidy(() => v.assign(tf.tensor(toFloat32(raw, name), raw.shape, 'float32')));
  }
}

/** Restores weights and optimiser state from a checkpoint folder and returns its loop state. */
export async function loadCheckpoint(dir: string, params: ReadonlyMap<string, tf.Variable>, optimizer: Optimizer): Promise<CheckpointState> {
  return applyCheckpoint(await readCheckpointFiles(dir), params, optimizer);
}

function applyCheckpoint(files: CheckpointFiles, params: ReadonlyMap<string, tf.Variable>, optimizer: Optimizer): CheckpointState {
  const { dir, state } = files;
  if (state.optimizer.name !== optimizer.name) {
    throw new Error(`${dir} was written by optimiser "${state.optimizer.name}", this run uses "${optimizer.name}"`);
  }
  assignTrainable(join(dir, TRAINABLE_FILE), files.trainable, params);
  const onHost = (name: string) => optimizer.isHostSlot?.(name) === true; // kept off the wasm heap: never a tensor
  const entries = [...files.optimizer.tensors];
  const host = new Map<string, HostArray>(entries.filter(([name]) => onHost(name)).map(([name, raw]) => [name, { shape: [...raw.shape], data: toFloat32(raw, name) }]));
  const tensors = new Map(entries.filter(([name]) => !onHost(name)).map(([name, raw]) => [name, tf.tensor(toFloat32(raw, name), raw.shape, 'float32')] as const));
  try {
    optimizer.setState({ step: state.optimizer.step, tensors, ...(host.size > 0 ? { host } : {}) });
  } finally {
    tf.dispose([...tensors.values()]);
  }
  return state;
}

/**
 * Restores the newest checkpoint under `root` that reads whole; a newer damaged one is skipped with
 * a warning through `log` naming its bad file. None readable: an InputFileError naming each.
 */
export async function resumeCheckpoint(root: string, params: ReadonlyMap<string, tf.Variable>, optimizer: Optimizer, log: (line: string) => void): Promise<{ dir: string; state: CheckpointState }> {
  const bad: CorruptCheckpointError[] = [];
  for (const step of (await checkpointSteps(root)).reverse()) {
    const dir = join(root, checkpointName(step));
    let files: CheckpointFiles;
    try {
      files = await readCheckpointFiles(dir);
    } catch (e) {
      if (!(e instanceof CorruptCheckpointError)) throw e;
      bad.push(e);
      log(`warning: the checkpoint ${dir} is damaged (${e.message}); trying the one before it`);
      continue;
    }
    if (bad.length > 0) log(`warning: resuming from ${dir}, an older checkpoint than the damaged ${bad.map((b) => b.file).join(', ')}`);
    return { dir, state: applyCheckpoint(files, params, optimizer) };
  }
  const what = bad.length > 0 ? `every checkpoint is damaged: ${bad.map((b) => b.message).join('; ')}` : 'there is no checkpoint';
  throw new InputFileError(root, `--resume: ${what}. Remove ${root} and start the run again with --resume-or-start, or choose another --out`);
}
