// `lorapro train` as a function: locks and checks --out, resolves the learning rate (given, recommended, or a
// search of short trial runs), prepares the run, runs the loop (train/trainer.ts), and writes the
// report of a run that completed or diverged.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { writeRunReport } from '../report/run.js';
import { latestCheckpoint } from '../train/checkpoint.js';
import type { LrChoice, TrainConfig } from '../train/config.js';
import { UsageError } from '../train/errors.js';
import { METRICS_FILE } from '../train/metrics-log.js';
import { silentProgress, type Progress } from '../train/progress.js';
import { checkDataUnchanged, checkResumable, readRunFile } from '../train/run-file.js';
import { disposeRun, prepareRun } from '../train/run-setup.js';
import { trainLoop, type OutFolder, type TrainHooks, type TrainResult } from '../train/trainer.js';
import { isHeapExhausted } from '../engine/heap.js';
import { chooseLearningRate, SEARCH_DIR } from './lr-search.js';
import { refuseModelAsOut, refuseModelOverwrite } from './model-guard.js';
import { lockOut } from './out-lock.js';
import { checkRunMemory, heapRanOut } from './memory-check.js';

export type { TrainHooks, TrainResult } from '../train/trainer.js';

/**
 * Trains per `config`, writing into `config.out`: checkpoints/, metrics.jsonl, run.json, the
 * adapter (or the full model for `full`) and best/ (the best evaluation's weights), report.html.
 * The learning rate is resolved first (lr-search.ts: given, the model folder's recommendation, or a
 * search whose trials go to lr-search/); `hooks.signal` stops the run cleanly at a step boundary.
 *
 * @example
 *   const result = await train(trainConfig({ model: 'models/gpt2', train: 'data.jsonl', task: 'causal-lm', method: 'lora-pro', out: 'runs/a' }));
 */
export async function train(config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  await tf.ready();
  const progress = hooks.progress ?? silentProgress;
  const log = hooks.log ?? ((line: string) => progress.log(line));
  const stat = statSync(config.out, { throwIfNoEntry: false });
  if (stat && !stat.isDirectory()) throw new UsageError(`--out ${config.out} is a file, not a folder; choose a folder for the run's outputs`);
  refuseModelAsOut(config.out, config.model); // before the lock writes into it
  const lock = lockOut(config.out, log); // before the other checks, so two runs cannot both pass them
  try {
    return await trainLocked(config, hooks, progress, log);
  } finally {
    lock.release();
  }
}

async function trainLocked(config: TrainConfig, hooks: TrainHooks, progress: Progress, log: (line: string) => void): Promise<TrainResult> {
  const found = await checkOutFolder(config);
  if (config.resume && (found.latest || found.search)) {
    // before a search, which would otherwise run only to be refused; with nothing to resume the run starts afresh
    await checkResumable(config);
    await checkDataUnchanged(config, log);
  }
  await checkRunMemory(config, log); // from config.json and the checkpoint's headers, before any weight is loaded
  const choice = (await previousChoice(config)) ?? (await chooseLearningRate(config, { runTrial: (c) => train(c, { signal: hooks.signal }), log, signal: hooks.signal }));
  if (choice === 'interrupted') {
    return { status: 'interrupted', message: `interrupted during the learning-rate search; its trials in ${join(config.out, SEARCH_DIR)} continue with --resume`, steps: 0, elapsedS: 0, peakTensorBytes: 0, peakRssBytes: 0 };
  }
  if (choice.source !== 'search') log(choice.note);
  let run;
  try {
    run = await prepareRun({ ...config, lr: choice.lr }, log);
  } catch (e) {
    throw isHeapExhausted(e) ? await heapRanOut(config, e) : e;
  }
  let failed = false;
  try {
    const result = await trainLoop(run, choice, found, progress, log, hooks);
    if (result.status !== 'interrupted') await writeRunReport(config.out); // a diverged run's too; an interrupted one continues
    return { ...result, learningRate: choice };
  } catch (e) {
    failed = true;
    throw isHeapExhausted(e) ? await heapRanOut(config, e) : e;
  } finally {
    progress.stop();
    try {
      disposeRun(run);
    } catch (e) {
      if (!failed) throw e; // after an aborted heap, freeing fails too: the first error is the one to tell
    }
  }
}

/**
 * Checks --out before anything runs: it is never the --model folder nor, before a run is there, a
 * folder holding a model; a fresh start needs a folder without a run in it; --resume needs something
 * to resume ('if-any' starts afresh where there is nothing). A run whose outputs are there but whose
 * checkpoints are gone is never overwritten. Each refusal names the command line that works.
 */
async function checkOutFolder(config: TrainConfig): Promise<OutFolder> {
  const out = config.out;
  const checkpoints = join(out, 'checkpoints');
  const found: OutFolder = { latest: await latestCheckpoint(checkpoints), metrics: existsSync(join(out, METRICS_FILE)), search: existsSync(join(out, SEARCH_DIR)) };
  const started = found.latest !== undefined || found.metrics || found.search;
  refuseModelOverwrite(out, config.model, { force: started }); // a run's own model.safetensors is no one else's model
  const finished = FINISHED_OUTPUTS.find((name) => existsSync(join(out, name)));
  if (!config.resume) {
    if (!started) return found;
    if (finished) throw new UsageError(`${out} already holds a finished or stopped run (${finished}); to train again choose another --out, or remove ${out}`);
    if (found.latest) throw new UsageError(`${out} already holds an unfinished run (newest checkpoint ${found.latest}); pass --resume to continue it, or choose another --out`);
    throw new UsageError(`${out} already holds a run that stopped before its first checkpoint; start it again with --resume-or-start (or remove ${out}, or choose another --out)`);
  }
  if (found.latest) return found;
  if (finished) throw new UsageError(`--resume: ${out} holds a finished or stopped run (${finished}) but no checkpoint to continue from (${checkpoints} is empty or gone); nothing was changed. Choose another --out to train again, or remove ${out}`);
  if (config.resume === true && !found.search) {
    if (found.metrics) throw new UsageError(`--resume: ${out} holds a run with no checkpoint yet (it stopped before its first one); start it again with --resume-or-start (or remove ${out})`);
    throw new UsageError(`--resume: there is no run to continue in ${out} (no checkpoint in ${checkpoints}); drop --resume to start one there, or pass --resume-or-start`);
  }
  return found;
}

/** Files a run writes when it ends (completed or stopped). */
const FINISHED_OUTPUTS = ['report.html', 'adapter_model.safetensors', 'model.safetensors'];

/** On --resume, the learning rate the run in --out resolved before (so a search is not redone). */
async function previousChoice(config: TrainConfig): Promise<LrChoice | undefined> {
  if (!config.resume) return undefined;
  const previous = await readRunFile(config.out);
  const choice = previous?.learningRate;
  return choice && JSON.stringify(choice.requested) === JSON.stringify(config.lr) ? choice : undefined;
}
