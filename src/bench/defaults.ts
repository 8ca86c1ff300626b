// lorapro's defaults, checked as a user meets them: every method of `compare` with no --lr on the
// shipped base, on each built-in task (the paper bench's settings: 150 steps of batch 16) and on a
// classification file of our own (first-sound: a word's first sound, 7 classes, from CMUdict,
// written as CSV and trained with the CLI's defaults for 2 epochs). Test accuracy of each run's best
// checkpoint against the majority label; the learning rate each used and where it came from.
// Run: `npm run bench:defaults [-- --tasks first-sound,name-gender --methods full,lora --lr auto --out DIR]`
// (--lr auto: every method searches its rate, the recommendations set aside; --cli-defaults: the
// built-in tasks with compare's own defaults, 3 epochs of batch 8, instead of the paper's 150 steps).
// Each task's table lands in OUT/<task>/summary.json; docs/defaults.md is written from all of them,
// so the tasks can be split over processes (one per core) and `--report` writes the page alone.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { useBackend } from '../engine/backend.js';
import { Rng } from '../math/rng.js';
import { builtinTaskNames, loadBuiltinTask } from '../tasks/builtin.js';
import { labelWords } from '../tasks/syllables.js';
import { evaluate } from '../train/evaluate.js';
import { checkVariant, METHODS, usesAdapters, type MethodName } from '../train/methods.js';
import { machineLine } from '../run/pretrain.js';
import { readRecommendations } from '../train/lr-defaults.js';
import { readComparedRun, writeCompareReport } from '../report/compare.js';
import { compareMethods } from '../run/compare.js';
import type { TrainConfig } from '../train/config.js';
import type { TrainResult } from '../train/trainer.js';
import { loadEvalData } from '../train/run-data.js';
import { readRunFile } from '../train/run-file.js';
import { loadTrained, padIdOf } from '../train/run-model.js';
import { markdownTable } from './paper/table.js';
import { TASK_MAX_LENGTH } from './paper/paper.js';
import { testedDir, testMetrics } from './paper/test-metrics.js';

const OWN_TASK = 'first-sound';
const BASE = 'models/lorapro-base';

/** ARPAbet phoneme (stress digit dropped) → manner of articulation. */
const MANNER: Readonly<Record<string, string>> = Object.fromEntries([
  ...['AA', 'AE', 'AH', 'AO', 'AW', 'AY', 'EH', 'ER', 'EY', 'IH', 'IY', 'OW', 'OY', 'UH', 'UW'].map((p) => [p, 'vowel']),
  ...['P', 'B', 'T', 'D', 'K', 'G'].map((p) => [p, 'stop']),
  ...['F', 'V', 'TH', 'DH', 'S', 'Z', 'SH', 'ZH', 'HH'].map((p) => [p, 'fricative']),
  ...['M', 'N', 'NG'].map((p) => [p, 'nasal']),
  ...['L', 'R'].map((p) => [p, 'liquid']),
  ...['W', 'Y'].map((p) => [p, 'glide']),
  ...['CH', 'JH'].map((p) => [p, 'affricate']),
]);

/** first-sound as CSV files (train 2,245 / dev 300 / test 500 words, seeded), written once. */
function writeOwnTask(dir: string): { train: string; dev: string; test: string } {
  const files = { train: join(dir, 'train.csv'), dev: join(dir, 'dev.csv'), test: join(dir, 'test.csv') };
  if (Object.values(files).every(existsSync)) return files;
  mkdirSync(dir, { recursive: true });
  const words = labelWords((p) => MANNER[p.split(/\s+/)[0].replace(/\d$/, '')]);
  const picked = new Rng(7).shuffle(words).slice(0, 2245 + 300 + 500);
  const csv = (rows: typeof picked) => `text,label\n${rows.map((r) => `${r.text},${r.label}`).join('\n')}\n`;
  writeFileSync(files.train, csv(picked.slice(0, 2245)));
  writeFileSync(files.dev, csv(picked.slice(2245, 2545)));
  writeFileSync(files.test, csv(picked.slice(2545)));
  return files;
}

interface Row {
  readonly method: string;
  readonly lr: number;
  readonly source: string;
  readonly accuracy: number;
  readonly status: string;
}

interface Summary {
  readonly task: string;
  readonly settings: string;
  readonly majority: number;
  readonly rows: Row[];
  readonly minutes: number;
  readonly date: string;
}

/** Test accuracy of a run on a CSV file task: its best checkpoint, evaluated once on test.csv. */
async function fileTestAccuracy(runDir: string, testFile: string): Promise<number> {
  const dir = testedDir(runDir);
  const run = (await readRunFile(dir))!;
  const adapter = usesAdapters(run.config.method);
  const trained = await loadTrained({ model: adapter ? run.config.model : dir, adapter: adapter ? dir : undefined, log: () => {} });
  try {
    const items = loadEvalData(testFile, { task: 'classification', maxLength: run.maxLength, labels: trained.labels }, trained.tokenizer);
    return (await evaluate(trained.model, items, 32, padIdOf(trained.tokenizer, run.config.model))).accuracy!;
  } finally {
    trained.model.dispose();
  }
}

function majorityOf(file: string): number {
  const labels = readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').pop()!);
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return Math.max(...counts.values()) / labels.length;
}

type Mode = { readonly lrAuto: boolean; readonly cliDefaults: boolean };

/** OUT/<task>[-cli-defaults][-lr-auto]: one folder per task and way of running it. */
const taskKey = (task: string, m: Mode): string => `${task}${m.cliDefaults ? '-cli-defaults' : ''}${m.lrAuto ? '-lr-auto' : ''}`;

async function runTask(task: string, methods: readonly MethodName[], out: string, mode: Mode, subset: boolean): Promise<Summary> {
  const { lrAuto, cliDefaults } = mode;
  const started = performance.now();
  const dir = join(out, taskKey(task, mode));
  const own = task === OWN_TASK ? writeOwnTask(join(out, 'data', OWN_TASK)) : undefined;
  const base: Record<string, unknown> = own
    ? { model: BASE, task: 'classification', train: own.train, eval: own.dev, epochs: 2 }
    : cliDefaults
      ? { model: BASE, task: 'classification', train: `builtin:${task}` }
      : { model: BASE, task: 'classification', train: `builtin:${task}`, maxSteps: 150, batchSize: 16, warmupSteps: 15, maxLength: TASK_MAX_LENGTH[task] ?? 64 };
  const settings = (lrAuto ? '--lr auto, ' : '--lr recommended (auto where lorapro.json has no rate), ') + (own ? `CSV files, \`lorapro compare\` defaults, --epochs 2 (${METHODS.length} methods)` : cliDefaults ? `--task builtin:${task} and compare's defaults (3 epochs, batch 8, max length 128)` : `--task builtin:${task} --max-steps 150 --batch-size 16 --warmup-steps 15 --max-length ${base.maxLength}`);
  // Without --lr auto: each method at the base's recommended rate, and a search where it has none.
  const recommended = (await readRecommendations(BASE))?.learningRate ?? {};
  const results: { config: TrainConfig; result: TrainResult }[] = [];
  for (const method of methods) {
    const lr = lrAuto || recommended[method] === undefined ? 'auto' : 'recommended';
    results.push(...(await compareMethods({ base: { ...base, lr }, methods: [checkVariant(method)], seeds: [0], out: dir, resume: true }, { log: (l) => console.error(`[${task}] ${l}`) })).results);
  }
  await writeCompareReport(dir, await Promise.all(results.map(({ config }) => readComparedRun(config.method, config.seed, config.out))));
  const rows: Row[] = [];
  for (const { config, result } of results) {
    const accuracy = result.status !== 'completed' ? Number.NaN : own ? await fileTestAccuracy(config.out, own.test) : (await testMetrics(config.out)).accuracy!;
    rows.push({ method: config.method, lr: result.learningRate?.lr ?? Number.NaN, source: result.learningRate?.source ?? '-', accuracy, status: result.status });
  }
  const majority = own ? majorityOf(own.test) : loadBuiltinTask(task).majorityBaseline.test;
  const label = labelOf(taskKey(task, mode));
  const summary: Summary = { task: label, settings, majority, rows, minutes: (performance.now() - started) / 60000, date: new Date().toISOString() };
  // a subset of the methods (one process of several on the same task) writes its own part
  writeFileSync(join(dir, subset ? `summary-${methods.join('+')}.json` : 'summary.json'), `${JSON.stringify(summary, null, 1)}\n`);
  return summary;
}

const SOURCE: Readonly<Record<string, string>> = { model: 'lorapro.json', rule: 'width rule', search: 'search', given: '--lr' };

function markdown(summaries: readonly Summary[], command: string): string {
  const methods = [...new Set(summaries.flatMap((s) => s.rows.map((r) => r.method)))];
  const cell = (s: Summary, m: string) => {
    const r = s.rows.find((x) => x.method === m);
    if (!r) return '-';
    const margin = 100 * (r.accuracy - s.majority);
    return Number.isFinite(r.accuracy) ? `${(100 * r.accuracy).toFixed(1)} (${margin >= 0 ? '+' : ''}${margin.toFixed(1)})` : r.status;
  };
  const acc = markdownTable(['task', 'majority', ...methods], summaries.map((s) => [s.task, (100 * s.majority).toFixed(1), ...methods.map((m) => cell(s, m))]));
  const lrs = markdownTable(['task', ...methods], summaries.map((s) => [s.task, ...methods.map((m) => { const r = s.rows.find((x) => x.method === m); return r ? `${r.lr} (${SOURCE[r.source] ?? r.source})` : '-'; })]));
  const settings = summaries.map((s) => `- ${s.task}: ${s.settings}; ${s.minutes.toFixed(1)} min, finished ${s.date.slice(0, 16).replace("T", " ")} UTC`).join('\n');
  return `# Defaults, checked\n\nEvery method of \`lorapro compare\` on the shipped base (models/lorapro-base), seed 0: test accuracy % of each run's best checkpoint on validation, and in brackets its margin over the majority label, in points. A plain row ran each method at the base's recommended rate (lorapro.json, from \`bench paper\`'s grid at batch 16 and 150 steps; \`--lr recommended\`), searching where it has none (lora-pro-sgd); a row marked (--lr auto) searched every method's rate (\`--lr auto\`: three trial runs a quarter of the run long, a half decade apart around the recommended rate, up to two more beyond an edge; of the rates within one standard error of the best trial, the lowest), which is what a run without --lr does. first-sound is a file task of our own (a word's first sound from CMUdict: vowel, stop, fricative, nasal, liquid, glide, affricate; 2,245 / 300 / 500 words as CSV), trained with the CLI's defaults for 2 epochs. A built-in task's row without (defaults) ran with the paper bench's short budget (150 steps of batch 16, inputs cut to the task's length); one marked (defaults) with compare's own (3 epochs of batch 8, inputs up to 128 bytes, about 5× the examples seen).\n\n**Command:** \`${command}\` (the tasks may be split over processes with \`--tasks\`, one per core; \`--report\` then writes this page from all of them)  \n**Machine:** ${machineLine()}\n\n## Test accuracy %, (margin over majority)\n\n${acc}\n\n## Learning rate used (where it came from)\n\n${lrs}\n\n## Settings and wall time per task\n\nWall time of each task's runs; tasks (and method subsets) ran side by side, so up to four processes shared the machine's cores and the times are not speed figures.\n\n${settings}\n`;
}

/** A row's name: the task, then how it ran ("syllables (defaults, --lr auto)"). */
function labelOf(key: string): string {
  const how = [key.includes('-cli-defaults') ? 'defaults' : '', key.endsWith('-lr-auto') ? '--lr auto' : ''].filter(Boolean);
  const task = key.replace(/-cli-defaults|-lr-auto/g, '');
  return how.length ? `${task} (${how.join(', ')})` : task;
}

/** The task's summary.json, or its per-process parts merged (methods in METHODS order, longest time). */
function mergedSummary(dir: string): Summary[] {
  const parts = readdirSync(dir).filter((f) => /^summary(-.+)?\.json$/.test(f)).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Summary);
  if (parts.length === 0) return [];
  const rows = parts.flatMap((p) => p.rows).sort((a, b) => METHODS.indexOf(a.method as MethodName) - METHODS.indexOf(b.method as MethodName));
  return [{ ...parts[0], task: labelOf(basename(dir)), rows, minutes: Math.max(...parts.map((p) => p.minutes)), date: parts.map((p) => p.date).sort()[parts.length - 1] }];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { tasks: { type: 'string' }, methods: { type: 'string' }, out: { type: 'string' }, doc: { type: 'string' }, backend: { type: 'string' }, report: { type: 'boolean' }, lr: { type: 'string' }, 'cli-defaults': { type: 'boolean' } } });
  if (values.lr !== undefined && values.lr !== 'auto') throw new Error(`--lr: only "auto" (search every method's rate) is an option here, got "${values.lr}"`);
  const tasks = values.tasks?.split(',') ?? [OWN_TASK, ...builtinTaskNames()];
  const methods = (values.methods?.split(',') ?? [...METHODS]) as MethodName[];
  const out = values.out ?? '.tmp/bench-defaults';
  await useBackend(values.backend);
  for (const task of values.report ? [] : tasks) {
    const s = await runTask(task, methods, out, { lrAuto: values.lr === 'auto', cliDefaults: values['cli-defaults'] ?? false }, values.methods !== undefined);
    console.log(`${task}: majority ${(100 * s.majority).toFixed(1)} | ${s.rows.map((r) => `${r.method} ${(100 * r.accuracy).toFixed(1)} (lr ${r.lr}, ${r.source})`).join(' | ')}`);
  }
  const order = [OWN_TASK, ...builtinTaskNames()].flatMap((t) => [false, true].flatMap((cliDefaults) => [false, true].map((lrAuto) => taskKey(t, { lrAuto, cliDefaults }))));
  const summaries = readdirSync(out)
    .filter((t) => order.includes(t))
    .sort((a, b) => order.indexOf(a) - order.indexOf(b))
    .flatMap((t) => mergedSummary(join(out, t)));
  const doc = values.doc ?? 'docs/defaults.md';
  writeFileSync(doc, markdown(summaries, 'npm run bench:defaults'));
  console.log(`wrote ${doc} from ${summaries.length} tasks in ${out}`);
}

await main();
