// The training loop. One optimiser step: the learning rate for the step (a pure function of it),
// gradAccum micro-batches of gradients from tf.variableGrads inside tf.tidy, the method's optimiser.
// The loss is read back from the backend only on logged steps; evaluation, the per-layer gradient
// diagnostic and checkpoints happen every N steps. A checkpoint holds everything the loop's future
// depends on, so --resume after a kill ends on the same weights as an uninterrupted run.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { saveAdapter } from '../adapters/peft-files.js';
import { savePretrained } from '../models/pretrained.js';
import type { AnyModel } from '../models/types.js';
import { checkpointName, latestCheckpoint, loadTrainable, pruneCheckpoints, resumeCheckpoint, saveCheckpoint, type BestRecord, type CheckpointState } from './checkpoint.js';
import { evalBatches, evaluate, type EvalMetrics } from './evaluate.js';
import { usesAdapters, type MethodSetup } from './methods.js';
import type { Progress } from './progress.js';
import { DivergenceGuard, firstStepMessage } from './divergence.js';
import { LOWER_IS_BETTER, type LrChoice, type ResolvedTrainConfig } from './config.js';
import { BatchStream } from '../data/batches.js';
import { optimizerStep } from './step.js';
import { layerDiagnostics } from './diagnostics.js';
import { UsageError } from './errors.js';
import { appendMetrics, METRICS_FILE, truncateMetrics, type MetricsLine } from './metrics-log.js';
import { writeRunFile } from './run-file.js';
import { dropoutRngs, type PreparedRun } from './run-setup.js';
import { learningRate, validateSchedule, type ScheduleOptions } from './schedule.js';
import { planSteps, type StepPlan } from './step-plan.js';

export interface TrainHooks {
  /** Live progress; default silent. */
  progress?: Progress;
  /** Notices (resumed, clamped lengths, new heads); default progress.log. */
  log?: (line: string) => void;
  /** Called after every optimiser step (1-based) once its logging and checkpoint are done. */
  onStep?: (step: number) => void | Promise<void>;
  /**
   * Abort it (e.g. on Ctrl-C) to stop the run cleanly: the current step finishes, a checkpoint is
   * written, and the result is 'interrupted'; `--resume` continues from there.
   */
  signal?: AbortSignal;
}

export interface TrainResult {
  /**
   * 'diverged': a non-finite loss or the divergence guard stopped the run; 'interrupted': the
   * signal was aborted and a checkpoint written. `message` names the step either way.
   */
  readonly status: 'completed' | 'diverged' | 'interrupted';
  readonly message?: string;
  /** The learning rate the run trained with, and where it came from. */
  readonly learningRate?: LrChoice;
  readonly steps: number;
  readonly finalEval?: EvalMetrics;
  readonly best?: BestRecord;
  readonly elapsedS: number;
  readonly peakTensorBytes: number;
  readonly peakRssBytes: number;
}

/**
 * The loop of one prepared run, from a fresh start or the checkpoint in `found`: steps, logging,
 * evaluation, checkpoints, and at the end the trained weights in --out. The caller (run/train.ts)
 * has chosen the learning rate and writes the report.
 */
export async function trainLoop(run: PreparedRun, choice: LrChoice, found: OutFolder, progress: Progress, log: (line: string) => void, hooks: TrainHooks): Promise<TrainResult> {
  const { config, model, setup, data, padId } = run;
  const plan = planSteps(config, data.train.length);
  const schedule = scheduleOf(config, plan);
  const paths = { checkpoints: join(config.out, 'checkpoints'), metrics: join(config.out, METRICS_FILE) };
  const start = await startOrResume(run, choice, found, plan, paths, log);
  const stream = new BatchStream(data.train, { batchSize: config.batchSize, seed: config.seed, padId }, start.position);
  const evalSet = data.eval.length > 0 ? data.eval : undefined;
  if (!evalSet) log('no evaluation examples (the training file is too small to hold some out); evaluation is skipped');
  const diagBatch = config.diagnostics && setup.diagnosable && setup.pairs.length > 0 ? (evalSet ? evalBatches(evalSet, config.batchSize, padId)[0] : stream.peek()) : undefined;

  let { step, tokens, best } = start;
  let finalEval: EvalMetrics | undefined;
  const window = new LossWindow();
  const peak = new PeakMemory();
  const guard = config.divergenceGuard ? new DivergenceGuard(await weightNorm(guardedWeights(setup))) : undefined;
  const clock = { started: performance.now(), before: start.elapsedS };
  const elapsedS = () => clock.before + (performance.now() - clock.started) / 1000;
  const finish = (status: TrainResult['status'], message?: string): TrainResult => ({ status, message, steps: step, finalEval, best, elapsedS: elapsedS(), ...peak.max });
  const checkpoint = async () => {
    const path = await saveCheckpoint(paths.checkpoints, setup.params, setup.optimizer, { step, position: stream.position, rng: dropoutRngs(model).map((r) => r.state), tokens, elapsedS: elapsedS(), best });
    await pruneCheckpoints(paths.checkpoints, config.keepCheckpoints, best ? [best.step] : []);
    return path;
  };
  progress.start(plan.totalSteps, step);

  try {
    let savedAt = start.step;
    while (step < plan.totalSteps) {
      if (hooks.signal?.aborted) {
        if (window.pending > 0) await appendMetrics(paths.metrics, await logLine(window, step, tokens, plan, config, schedule, elapsedS(), peak));
        const path = step > savedAt ? await checkpoint() : await latestCheckpoint(paths.checkpoints);
        return finish('interrupted', `interrupted at step ${step} of ${plan.totalSteps}; ${path ? `the checkpoint ${path} holds it; continue with --resume` : 'no step had been trained yet; start it again with --resume-or-start'}`);
      }
      const lr = learningRate(step, schedule);
      const micro = Array.from({ length: config.gradAccum }, () => stream.next());
      const { loss, result } = await optimizerStep(run.model, run.setup, micro, lr, () => peak.sample());
      step += 1;
      const stepTokens = micro.reduce((n, b) => n + b.tokens, 0);
      tokens += stepTokens;
      window.add(loss, stepTokens, result.gradNorm);

      const evalNow = evalSet !== undefined && (step % plan.evalEvery === 0 || step === plan.totalSteps);
      const saveNow = step % plan.saveEvery === 0 || step === plan.totalSteps;
      if (result.skipped || step % config.logEvery === 0 || evalNow || saveNow) {
        const line = await logLine(window, step, tokens, plan, config, schedule, elapsedS(), peak);
        const notFinite = result.skipped || !Number.isFinite(line.loss) ? `the training loss is not finite (${result.skipped ? `gradient norm ${result.gradNorm}` : `loss ${line.loss}`})` : undefined;
        const diverged = notFinite ?? guard?.check(line.loss, await weightNorm(guardedWeights(setup)));
        if (diverged) {
          const firstStep = notFinite !== undefined && start.step === 0 && step === 1;
          const message = firstStep ? await firstStepMessage(notFinite, model.namedParameters()) : await divergedMessage(step, diverged, config.lr, config.out);
          await appendMetrics(paths.metrics, { ...line, stopped: message });
          return finish('diverged', message);
        }
        if (evalNow) finalEval = await evaluate(model, evalSet, config.batchSize, padId);
        const diagnostic = evalNow && diagBatch ? await layerDiagnostics(model, setup.pairs, diagBatch) : undefined;
        await appendMetrics(paths.metrics, { ...line, ...(evalNow ? { eval: finalEval, diagnostic } : {}) });
        progress.update({ step, loss: line.loss, lr, tokensPerSec: line.tokensPerSec });
        const improved = evalNow && isBetter(finalEval!, best, config);
        if (improved) best = { step, metric: config.bestMetric, value: finalEval![config.bestMetric]! };
        if (saveNow || improved) {
          await checkpoint();
          savedAt = step;
        }
        window.restartClock(); // tokens/s counts training, not evaluation or checkpoint writing
      }
      await hooks.onStep?.(step);
    }
  } finally {
    window.dispose();
  }
  progress.stop();
  await saveOutputs(run, best, paths.checkpoints);
  return finish('completed');
}

/** The metrics line of `step`: the window's mean loss and throughput since the previous line. */
async function logLine(window: LossWindow, step: number, tokens: number, plan: StepPlan, config: ResolvedTrainConfig, schedule: ScheduleOptions, elapsed: number, peak: PeakMemory): Promise<MetricsLine> {
  const gradNorm = window.lastGradNorm;
  const { meanLoss, tokensPerSec } = await window.take();
  const epoch = (step * config.gradAccum) / plan.batchesPerEpoch;
  return { step, epoch, loss: meanLoss, lr: learningRate(step - 1, schedule), gradNorm, tokens, tokensPerSec, elapsedS: elapsed, ...peak.max };
}

/**
 * The weights the divergence guard measures: the trainable ones and every adapter factor, frozen or
 * not. LoRA-FA freezes A, and B alone starts at 0: a limit of 100× a zero start would stop any run.
 */
function guardedWeights(setup: MethodSetup): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>(setup.params);
  for (const p of setup.pairs) {
    out.set(p.aName, p.A);
    out.set(p.bName, p.B);
  }
  return out;
}

/** Global L2 norm of the trainable weights, read back (the divergence guard's second signal). */
async function weightNorm(params: ReadonlyMap<string, tf.Variable>): Promise<number> {
  const norm = tf.tidy(() => tf.sqrt(tf.addN([...params.values()].map((p) => tf.sum(tf.square(p))))));
  const value = (await norm.data())[0];
  norm.dispose();
  return value;
}

/** Peak tensor memory (tf.memory().numBytes) and process RSS, sampled while a step holds its gradients. */
class PeakMemory {
  readonly max = { peakTensorBytes: 0, peakRssBytes: 0 };

  sample(): void {
    this.max.peakTensorBytes = Math.max(this.max.peakTensorBytes, tf.memory().numBytes);
    this.max.peakRssBytes = Math.max(this.max.peakRssBytes, process.memoryUsage().rss);
  }
}

function scheduleOf(config: ResolvedTrainConfig, plan: StepPlan): ScheduleOptions {
  const schedule: ScheduleOptions = { base: config.lr, schedule: config.schedule, warmupSteps: config.warmupSteps, totalSteps: plan.totalSteps };
  try {
    validateSchedule(schedule);
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (the run has ${plan.totalSteps} steps)`);
  }
  return schedule;
}

/** Training losses summed on the backend between logged steps, read back once per logged step. */
class LossWindow {
  private sum: tf.Scalar | undefined;
  private steps = 0;
  private tokens = 0;
  private since = performance.now();
  lastGradNorm = Number.NaN;

  /** Steps added since the last take(). */
  get pending(): number {
    return this.steps;
  }

  add(loss: tf.Scalar, tokens: number, gradNorm: number): void {
    this.lastGradNorm = gradNorm;
    const next = this.sum ? (tf.add(this.sum, loss) as tf.Scalar) : loss;
    if (this.sum) tf.dispose([this.sum, loss]);
    this.sum = next;
    this.steps += 1;
    this.tokens += tokens;
  }

  async take(): Promise<{ meanLoss: number; tokensPerSec: number }> {
    const total = this.sum ? (await this.sum.data())[0] : Number.NaN;
    const now = performance.now();
    const out = { meanLoss: total / Math.max(1, this.steps), tokensPerSec: (this.tokens * 1000) / Math.max(1e-9, now - this.since) };
    this.dispose();
    return out;
  }

  restartClock(): void {
    this.since = performance.now();
  }

  dispose(): void {
    this.sum?.dispose();
    this.sum = undefined;
    this.steps = 0;
    this.tokens = 0;
  }
}

function isBetter(metrics: EvalMetrics, best: BestRecord | undefined, config: ResolvedTrainConfig): boolean {
  const value = metrics[config.bestMetric];
  if (value === undefined || !Number.isFinite(value)) return false;
  if (best === undefined) return true;
  return LOWER_IS_BETTER.has(config.bestMetric) ? value < best.value : value > best.value;
}

/** Names the step, the cause and a command that works: the same run at a lower rate, in a new folder. */
async function divergedMessage(step: number, what: string, lr: number, out: string): Promise<string> {
  const last = await latestCheckpoint(join(out, 'checkpoints'));
  const kept = last ? `the last good checkpoint is ${last}` : 'no checkpoint had been written yet';
  return `step ${step}: the run is diverging: ${what}; it stopped and ${kept}. Try a smaller learning rate, e.g. --lr ${Number((lr / 10).toPrecision(2))} (it was ${lr}), or --lr auto, with a new --out (or remove ${out} first).`;
}

/** What --out held before the run started. */
export interface OutFolder {
  readonly latest?: string; // newest complete checkpoint
  readonly metrics: boolean; // a metrics.jsonl
  readonly search: boolean; // learning-rate search trials
}

/**
 * A fresh start or the newest checkpoint of the run in --out with --resume (refusing one whose
 * settings differ); run.json is written either way.
 */
async function startOrResume(run: PreparedRun, choice: LrChoice, found: OutFolder, plan: StepPlan, paths: { checkpoints: string; metrics: string }, log: (line: string) => void): Promise<CheckpointState> {
  const { config, model, setup } = run;
  const requested = { ...config, lr: choice.requested };
  const fresh: CheckpointState = { step: 0, position: { epoch: 0, batchIndex: 0 }, rng: dropoutRngs(model).map((r) => r.state), tokens: 0, elapsedS: 0, optimizer: { name: setup.optimizer.name, step: 0 } };
  await mkdir(config.out, { recursive: true });
  await writeRunFile(run, plan.totalSteps, { config: requested, learningRate: choice });
  if (!found.latest) {
    if (config.resume) log(`no checkpoint in ${paths.checkpoints} yet; starting from step 0`);
    await rm(paths.metrics, { force: true });
    return fresh;
  }
  const { dir, state } = await resumeCheckpoint(paths.checkpoints, setup.params, setup.optimizer, log);
  dropoutRngs(model).forEach((r, i) => (r.state = state.rng[i] ?? r.state));
  await truncateMetrics(paths.metrics, state.step);
  log(`resumed from ${dir} at step ${state.step} of ${plan.totalSteps}`);
  return state;
}

/** The trained adapter (or full model) in --out, and the best evaluation's weights in --out/best. */
async function saveOutputs(run: PreparedRun, best: BestRecord | undefined, checkpoints: string): Promise<void> {
  const { config } = run;
  await saveModel(run, config.out);
  if (best === undefined) return;
  await loadTrainable(join(checkpoints, checkpointName(best.step)), run.setup.params);
  const bestDir = join(config.out, 'best');
  await saveModel(run, bestDir);
  await writeRunFile(run, undefined, undefined, bestDir);
}

async function saveModel(run: PreparedRun, dir: string): Promise<void> {
  if (usesAdapters(run.config.method)) await saveAdapter(run.model, dir, { baseModelNameOrPath: run.config.model, raw: run.config.rawAdapter });
  else await savePretrained(run.model, dir, { copyFrom: run.config.model });
}
