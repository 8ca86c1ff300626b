// The comparison of several methods × seeds: one HTML page overlaying every method's curves
// (mean over seeds) and results.md, a Markdown table of final metrics as mean ± std over seeds,
// with training time and peak memory per method. Built from the runs' files only, so it can be
// redrawn from finished run folders.
import { join } from 'node:path';
import { writeTextAtomic } from '../io/atomic.js';
import { diagnosticSeries, evalMetricNames, fmt, page, REPORT_FILE, table } from './run.js';
import { lineChart, PALETTE, type Series } from './svg.js';
import { readRunFile, type RunFile } from '../train/run-file.js';
import { METRICS_FILE, readMetrics, type MetricsLine } from '../train/metrics-log.js';
import { humanBytes } from '../train/run-memory.js';

export const RESULTS_FILE = 'results.md';

export interface ComparedRun {
  readonly method: string;
  readonly seed: number;
  readonly dir: string;
  readonly run?: RunFile;
  readonly lines: MetricsLine[];
}

export async function readComparedRun(method: string, seed: number, dir: string): Promise<ComparedRun> {
  return { method, seed, dir, run: await readRunFile(dir), lines: await readMetrics(join(dir, METRICS_FILE)) };
}

/** Mean and sample standard deviation (0 for one value). */
export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

const byMethod = (runs: readonly ComparedRun[]): Map<string, ComparedRun[]> => {
  const out = new Map<string, ComparedRun[]>();
  for (const r of runs) out.set(r.method, [...(out.get(r.method) ?? []), r]);
  return out;
};

/** Per step, the mean over seeds of `value` (steps missing from some seeds use those present). */
function meanCurve(runs: readonly ComparedRun[], pick: (l: MetricsLine) => number | undefined): [number, number][] {
  const sums = new Map<number, { sum: number; n: number }>();
  for (const r of runs) {
    for (const l of r.lines) {
      const v = pick(l);
      if (v === undefined || !Number.isFinite(v)) continue;
      const s = sums.get(l.step) ?? { sum: 0, n: 0 };
      sums.set(l.step, { sum: s.sum + v, n: s.n + 1 });
    }
  }
  return [...sums].sort((a, b) => a[0] - b[0]).map(([step, s]) => [step, s.sum / s.n]);
}

const lastEval = (r: ComparedRun): Record<string, number> | undefined => [...r.lines].reverse().find((l) => l.eval)?.eval as Record<string, number> | undefined;
const lastLine = (r: ComparedRun): MetricsLine | undefined => r.lines[r.lines.length - 1];

interface MethodRow {
  readonly method: string;
  readonly cells: Record<string, string>;
}

/** One row per method: metrics as mean ± std over seeds, time, peak memory, and runs that stopped early. */
function methodRows(runs: readonly ComparedRun[], metrics: readonly string[]): MethodRow[] {
  return [...byMethod(runs)].map(([method, rs]) => {
    const cells: Record<string, string> = {};
    for (const k of metrics) {
      const values = rs.map(lastEval).map((e) => e?.[k]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      const { mean, std } = meanStd(values);
      cells[k] = values.length ? `${fmt(mean)} ± ${fmt(std)}` : '-';
    }
    const times = rs.map((r) => lastLine(r)?.elapsedS).filter((v): v is number => v !== undefined);
    const t = meanStd(times);
    cells.time = times.length ? `${t.mean.toFixed(1)} ± ${t.std.toFixed(1)} s` : '-';
    cells.tensors = humanBytes(Math.max(0, ...rs.map((r) => lastLine(r)?.peakTensorBytes ?? 0)));
    cells.rss = humanBytes(Math.max(0, ...rs.map((r) => lastLine(r)?.peakRssBytes ?? 0)));
    const stopped = rs.filter((r) => r.lines.some((l) => l.stopped)).length;
    cells.seeds = `${rs.length}${stopped ? ` (${stopped} diverged)` : ''}`;
    return { method, cells };
  });
}

const COLUMNS = [
  ['seeds', 'seeds'],
  ['time', 'time / run'],
  ['tensors', 'peak tensor memory'],
  ['rss', 'peak RSS'],
] as const;

/** results.md: methods × final metrics (mean ± std over seeds), time and peak memory per method. */
export function renderResultsMarkdown(runs: readonly ComparedRun[]): string {
  const metrics = evalMetricNames(runs[0]?.run, runs[0]?.lines ?? []);
  const rows = methodRows(runs, metrics);
  const head = ['method', ...metrics, ...COLUMNS.map(([, h]) => h)];
  const md = [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
  for (const r of rows) md.push(`| ${[r.method, ...metrics.map((k) => r.cells[k]), ...COLUMNS.map(([k]) => r.cells[k])].join(' | ')} |`);
  const c = runs[0]?.run?.config;
  const setup = c ? `\n${c.task} on ${c.model}, data ${c.train}${c.eval ? ` / ${c.eval}` : ''}; rank ${c.rank}, alpha ${c.alpha}, batch ${c.batchSize}×${c.gradAccum}, ${c.maxSteps ? `${c.maxSteps} steps` : `${c.epochs} epochs`}, backend ${runs[0].run!.backend}.\n` : '';
  return `# Method comparison\n${setup}\nFinal evaluation metrics, mean ± sample std over seeds. Time is training time per run; peak tensor memory is the largest tf.memory().numBytes seen while a step held its gradients; peak RSS is the process's largest resident set (runs share one process, so it only grows).\n\n${md.join('\n')}\n`;
}

/** The comparison page: every method's mean curves overlaid, and the results table. */
export function renderCompareReport(runs: readonly ComparedRun[]): string {
  const groups = [...byMethod(runs)];
  const metrics = evalMetricNames(runs[0]?.run, runs[0]?.lines ?? []);
  const color = (i: number) => PALETTE[i % PALETTE.length];
  const curve = (title: string, y: string, pick: (l: MetricsLine) => number | undefined): string =>
    lineChart({ title, xLabel: 'step', yLabel: y }, groups.map(([method, rs], i): Series => ({ name: method, color: color(i), points: meanCurve(rs, pick) })));
  const diag = groups.flatMap(([method, rs], i) => {
    const [lora, pro] = diagnosticSeries(rs[0].lines, ` (${method})`); // the first seed's: averaging layers' cosines over seeds would blur them
    return lora.points.length ? [{ ...lora, color: color(i) }, { ...pro, color: color(i) }] : [];
  });
  const rows = methodRows(runs, metrics);
  const body = [
    `<p class="note">${runs.length} runs: ${groups.map(([m, rs]) => `${m} × ${rs.length} seed${rs.length > 1 ? 's' : ''}`).join(', ')}. Curves are means over seeds.</p>`,
    table(['method', ...metrics, ...COLUMNS.map(([, h]) => h)], rows.map((r) => [r.method, ...metrics.map((k) => r.cells[k]), ...COLUMNS.map(([k]) => r.cells[k])])),
    curve('Training loss', 'loss', (l) => l.loss),
    curve('Evaluation loss', 'loss', (l) => l.eval?.loss),
    ...metrics.filter((k) => k !== 'loss').map((k) => curve(`Evaluation ${k}`, k, (l) => (l.eval as unknown as Record<string, number> | undefined)?.[k])),
    diag.length ? lineChart({ title: 'Mean cosine with the full gradient over adapted layers (solid LoRA, dashed LoRA-Pro)', xLabel: 'step', yLabel: 'cosine' }, diag) : '',
    `<p class="note">Each run's own report: ${runs.map((r) => `${r.method}/seed-${r.seed}/${REPORT_FILE}`).join(', ')}.</p>`,
  ];
  return page('Method comparison', body.filter(Boolean).join('\n'));
}

/** Writes `dir/report.html` and `dir/results.md` for `runs`. */
export async function writeCompareReport(dir: string, runs: readonly ComparedRun[]): Promise<void> {
  await writeTextAtomic(join(dir, REPORT_FILE), renderCompareReport(runs));
  await writeTextAtomic(join(dir, RESULTS_FILE), renderResultsMarkdown(runs));
}
