// The learning rate a run trains with. A number is used as given. `auto` tries a few rates a half
// decade apart around the suggested one (lr-defaults.ts), each as a short run of the same method,
// data and seed, and keeps the one with the best validation metric; where that is the grid's edge,
// it tries up to two more rates beyond it. `auto` is what a run without --lr does: the
// recommendation of a model folder was measured at one batch size and length (lorapro.json says
// which), and runs of other settings need other rates (docs/defaults.md). `recommended` takes the
// suggested rate as it is, without a search.
//
// Trials live in OUT/lr-search/lr-<rate>/; each leaves trial.json with its score, and a killed
// search resumes (finished trials are read back, an unfinished one continues from its checkpoint).
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.js';
import { readModelConfig } from '../io/hf-config.js';
import { readJsonFile } from '../io/json-file.js';
import { readRecommendations, RECOMMENDATIONS_FILE, recommendedRate, searchGrid, widthOf } from '../train/lr-defaults.js';
import { LOWER_IS_BETTER, trainConfig, type LrChoice, type LrTrial, type MetricName, type ResolvedTrainConfig, type TrainConfig } from '../train/config.js';
import { UsageError } from '../train/errors.js';
import { requireModelDir } from '../train/run-model.js';
import { loadRunInputs } from '../train/run-setup.js';
import { planSteps } from '../train/step-plan.js';

export const SEARCH_DIR = 'lr-search';
const TRIAL_FILE = 'trial.json';
/** Points a default grid may grow by when its best rate sits at an edge. */
const MAX_EXTENSIONS = 2;
const KEPT = new Set([TRIAL_FILE, 'metrics.jsonl', 'run.json', 'report.html']);

/** What a trial needs from the trainer: one short run, and its outcome. */
export type TrialRunner = (config: ResolvedTrainConfig) => Promise<{ status: string; best?: { value: number }; finalEval?: { loss: number } }>;

export interface SearchHooks {
  readonly runTrial: TrialRunner;
  readonly log: (line: string) => void;
  /** Aborted (Ctrl-C): the search stops after the current trial's step and returns 'interrupted'. */
  readonly signal?: AbortSignal;
}

/**
 * The best trial: the highest score (lowest where the metric is lower-is-better), ties to the lower
 * validation loss, then to the earlier grid point. Trials that diverged never win.
 */
export function pickTrial<T extends Pick<LrTrial, 'score' | 'loss'>>(trials: readonly T[], lowerIsBetter = false): T | undefined {
  const sign = lowerIsBetter ? -1 : 1;
  let best: T | undefined;
  for (const t of trials) {
    if (!Number.isFinite(t.score)) continue;
    if (best === undefined) best = t;
    else if (sign * (t.score - best.score) > 0 || (t.score === best.score && t.loss < best.loss)) best = t;
  }
  return best;
}

const show = (lr: number): string => String(Number(lr.toPrecision(3)));

/**
 * The noise of a validation score: the binomial standard error √(p(1−p)/n) of a proportion p over n
 * examples (exact for accuracy, an approximation for macro-F1 and MCC); 0 for loss and perplexity,
 * which have no such bound.
 */
export function scoreStandardError(metric: MetricName, score: number, examples: number): number {
  if (LOWER_IS_BETTER.has(metric) || !(examples > 0) || !Number.isFinite(score)) return 0;
  const p = Math.min(1, Math.max(0, score));
  return Math.sqrt((p * (1 - p)) / examples);
}

/**
 * The search's choice, by the one-standard-error rule (Breiman et al., 1984): of the rates whose score
 * is within one standard error of the best trial's (or ties it), the lowest. A trial is a quarter of the run, and
 * short runs favour high rates (the best rate falls as the horizon grows: Bjorck et al., 2024); a rate
 * too high for the whole run ends at the majority label, one too low still learns. Measured: on
 * syllables at compare's defaults LoRA+'s trials scored 0.563, 0.573 and 0.507 at 3e-4, 1e-3 and 3e-3
 * (300 examples, one standard error 0.029); the whole run at 1e-3 ended at 49.4 % test accuracy
 * (majority 47.4), at 3e-4 at 82.8 %.
 */
export function pickSearchTrial(trials: readonly LrTrial[], metric: MetricName, examples: number): { best: LrTrial; chosen: LrTrial; tolerance: number } | undefined {
  const lowerIsBetter = LOWER_IS_BETTER.has(metric);
  const best = pickTrial(trials, lowerIsBetter);
  if (!best) return undefined;
  const tolerance = scoreStandardError(metric, best.score, examples);
  // Ties count as within the margin: where every trial scores 100 % the standard error is 0, and
  // the lowest of the tied rates is kept, not the one whose validation loss happens to be lowest.
  const near = trials.filter((t) => Number.isFinite(t.score) && (lowerIsBetter ? t.score - best.score : best.score - t.score) <= tolerance);
  const chosen = near.reduce((a, b) => (b.lr < a.lr ? b : a));
  return { best, chosen, tolerance };
}

/** A score no rate can beat: 100 % of a higher-is-better proportion. */
function isPerfect(metric: MetricName, score: number): boolean {
  return !LOWER_IS_BETTER.has(metric) && score >= 1;
}

/**
 * Resolves `config.lr` to a number, searching where it must.
 *
 * @example
 *   const choice = await chooseLearningRate(config, { runTrial: (c) => train(c), log: console.error });
 */
export async function chooseLearningRate(config: TrainConfig, hooks: SearchHooks): Promise<LrChoice | 'interrupted'> {
  if (typeof config.lr === 'number') return { requested: config.lr, lr: config.lr, source: 'given', note: `learning rate ${show(config.lr)} (--lr)` };
  requireModelDir(config.model);
  const modelConfig = await readModelConfig(config.model);
  const { lr: centre, fromFolder } = recommendedRate(config.method, modelConfig, await readRecommendations(config.model));
  const width = widthOf(modelConfig);
  if (config.lr === 'recommended') {
    const from = fromFolder ? `recommended for ${config.method} by ${join(config.model, RECOMMENDATIONS_FILE)}` : `the width rule's for ${config.method} at width ${width} (${join(config.model, RECOMMENDATIONS_FILE)} recommends none)`;
    return { requested: 'recommended', lr: centre, source: fromFolder ? 'model' : 'rule', note: `learning rate ${show(centre)}: ${from} (--lr recommended; without --lr the run searches around it)` };
  }
  return search(config, config.lrGrid ?? searchGrid(centre), fromFolder ? `${join(config.model, RECOMMENDATIONS_FILE)}'s ${show(centre)}` : `the width rule's ${show(centre)}`, hooks);
}

async function search(config: TrainConfig, grid: readonly number[], centre: string, hooks: SearchHooks): Promise<LrChoice | 'interrupted'> {
  const { data } = await loadRunInputs(config, () => {});
  const total = planSteps(config, data.train.length).totalSteps;
  const steps = config.lrSearchSteps ?? Math.min(total, Math.max(20, Math.ceil(total / 4)));
  if (data.eval.length === 0) throw new UsageError(`the learning-rate search needs evaluation examples, and ${config.train} is too small to hold some out; give --lr or --eval`);
  const metric = config.bestMetric;
  hooks.log(`learning-rate search (--lr auto, the default${config.lrGrid ? '; --lr-grid' : `; around ${centre}`}): ${grid.length} trials of ${steps} steps at ${grid.map(show).join(', ')}, best validation ${metric} of ${data.eval.length} examples (--lr-grid and --lr-search-steps set the budget)`);
  const trials: LrTrial[] = [];
  const tryRate = async (lr: number): Promise<boolean> => {
    const trial = await runTrial(config, lr, steps, total, hooks);
    if (trial === 'interrupted') return false;
    hooks.log(`  lr ${show(lr)}: ${trial.status === 'completed' ? `${metric} ${trial.score.toFixed(4)}, validation loss ${trial.loss.toFixed(4)}` : trial.status}`);
    trials.push(trial);
    return true;
  };
  for (const lr of grid) if (!(await tryRate(lr))) return 'interrupted';
  // A default grid whose best point is at an edge is extended past it, a half decade at a time.
  let extended = 0;
  while (config.lrGrid === undefined && extended < MAX_EXTENSIONS) {
    const tried = trials.map((t) => t.lr).sort((a, b) => a - b);
    const best = pickTrial(trials, LOWER_IS_BETTER.has(metric));
    const edge = best?.lr === tried[0] ? -1 : best?.lr === tried[tried.length - 1] ? 1 : 0;
    if (!best || edge === 0 || isPerfect(metric, best.score)) break; // nothing beyond an edge can beat 100 %
    const next = searchGrid(best.lr, 3)[edge === -1 ? 0 : 2];
    hooks.log(`  the best rate is at the ${edge === -1 ? 'low' : 'high'} edge: trying ${show(next)} too`);
    if (!(await tryRate(next))) return 'interrupted';
    extended += 1;
  }
  const picked = pickSearchTrial(trials, metric, data.eval.length);
  const rates = trials.map((t) => t.lr).sort((a, b) => a - b);
  if (!picked) throw new UsageError(`every learning rate of the search diverged (${rates.map(show).join(', ')}); give a lower --lr or --lr-grid`);
  const { best, chosen, tolerance } = picked;
  const edge = rates.length > 1 && (best.lr === rates[0] || best.lr === rates[rates.length - 1]);
  const why =
    chosen === best
      ? `best validation ${metric}`
      : tolerance === 0
        ? `the lowest of the rates tied at the best validation ${metric} (${best.score.toFixed(4)})`
        : `the lowest rate within one standard error (${tolerance.toFixed(3)}) of the best validation ${metric} (${best.score.toFixed(4)} at ${show(best.lr)})`;
  const note = `learning rate ${show(chosen.lr)}: ${why} of ${trials.length} trials of ${steps} steps (${rates.map(show).join(', ')})${edge ? '; the best is at the edge of the rates tried, so a wider --lr-grid may find a better one' : ''}`;
  hooks.log(`chose ${note}`);
  return { requested: config.lr, lr: chosen.lr, source: 'search', note, metric, trialSteps: steps, trials, standardError: tolerance };
}

/** One trial: its saved result, or a short run of `steps` (the run's schedule and warmup squeezed to fit). */
async function runTrial(config: TrainConfig, lr: number, steps: number, total: number, hooks: SearchHooks): Promise<LrTrial | 'interrupted'> {
  const dir = join(config.out, SEARCH_DIR, `lr-${show(lr)}`);
  const saved = join(dir, TRIAL_FILE);
  if (existsSync(saved)) {
    const t = (await readJsonFile(saved)) as { lr: number; status: string; score: number | null; loss: number | null }; // JSON keeps NaN as null
    return { lr: t.lr, status: t.status, score: t.score ?? Number.NaN, loss: t.loss ?? Number.NaN };
  }
  const trialConfig = trainConfig({
    ...config,
    lr,
    lrGrid: undefined,
    lrSearchSteps: undefined,
    epochs: undefined,
    maxSteps: steps,
    warmupSteps: Math.min(steps, Math.round((config.warmupSteps * steps) / total)),
    evalEvery: Math.max(1, Math.ceil(steps / 2)),
    saveEvery: Math.max(1, Math.ceil(steps / 2)),
    keepCheckpoints: 1,
    diagnostics: false,
    out: dir,
    resume: 'if-any',
  }) as ResolvedTrainConfig;
  if (hooks.signal?.aborted) return 'interrupted';
  const result = await hooks.runTrial(trialConfig);
  if (result.status === 'interrupted') return 'interrupted';
  const completed = result.status === 'completed';
  const trial: LrTrial = { lr, status: result.status, score: completed ? (result.best?.value ?? Number.NaN) : Number.NaN, loss: completed ? (result.finalEval?.loss ?? Number.NaN) : Number.NaN };
  await mkdir(dir, { recursive: true });
  await writeJsonAtomic(saved, trial);
  // keep the trial's metrics, run.json and report; its weights and checkpoints have served their purpose
  for (const name of await readdir(dir)) if (!KEPT.has(name)) await rm(join(dir, name), { recursive: true, force: true });
  return trial;
}
