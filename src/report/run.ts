// report.html for one run: a self-contained page (inline SVG, inline CSS, no scripts or network)
// with the loss and evaluation curves, the final metrics and the per-layer gradient diagnostic.
import { join } from 'node:path';
import { writeTextAtomic } from '../io/atomic.js';
import { METHOD_SUMMARIES } from '../train/methods.js';
import { escapeHtml, groupedBars, lineChart, type Series } from './svg.js';
import { METRICS_BY_TASK } from '../train/config.js';
import { readRunFile, type RunFile } from '../train/run-file.js';
import { METRICS_FILE, readMetrics, type MetricsLine } from '../train/metrics-log.js';
import { formatDuration } from '../train/progress.js';

export const REPORT_FILE = 'report.html';

export const PAGE_STYLE = `body{font-family:sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.note{color:#555}.stopped{color:#b00;font-weight:bold}
svg{display:block;margin:1em 0}`;

export function page(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${PAGE_STYLE}</style></head>\n<body><h1>${escapeHtml(title)}</h1>\n${body}\n</body></html>\n`;
}

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const tr = (cells: readonly string[], tag: string) => `<tr>${cells.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('')}</tr>`;
  return `<table>${tr(head, 'th')}${rows.map((r) => tr(r, 'td')).join('')}</table>`;
}

export const fmt = (v: number | undefined, digits = 4): string => (v === undefined || v === null ? '-' : Number.isFinite(v) ? v.toFixed(digits) : String(v));

/** Eval metric names of a run's lines (from the task when run.json is there). */
export function evalMetricNames(run: RunFile | undefined, lines: readonly MetricsLine[]): string[] {
  if (run) return [...METRICS_BY_TASK[run.config.task]];
  const first = lines.find((l) => l.eval)?.eval;
  return first ? Object.keys(first).filter((k) => k !== 'examples') : [];
}

/** Mean cosine over layers of each diagnostic line: how well LoRA and LoRA-Pro follow the full gradient. */
export function diagnosticSeries(lines: readonly MetricsLine[], suffix = ''): Series[] {
  const withDiag = lines.filter((l) => l.diagnostic && l.diagnostic.length > 0);
  const mean = (l: MetricsLine, key: 'lora' | 'loraPro') => l.diagnostic!.reduce((s, d) => s + d[key].cosine, 0) / l.diagnostic!.length;
  return [
    { name: `LoRA${suffix}`, points: withDiag.map((l) => [l.step, mean(l, 'lora')] as const) },
    { name: `LoRA-Pro${suffix}`, points: withDiag.map((l) => [l.step, mean(l, 'loraPro')] as const), dashed: true },
  ];
}

function diagnosticSection(lines: readonly MetricsLine[]): string {
  const last = [...lines].reverse().find((l) => l.diagnostic && l.diagnostic.length > 0);
  if (!last) return '<p class="note">No per-layer diagnostic (full fine-tuning, or diagnostics off).</p>';
  const rows = last.diagnostic!.map((d) => [d.module, fmt(d.lora.cosine), fmt(d.loraPro.cosine), fmt(d.lora.relError), fmt(d.loraPro.relError)]);
  return [
    `<p class="note">On one batch, the full gradient g = dL/dW of each adapted layer against the update direction that plain LoRA (s²(BBᵀg + gAᵀA)) and LoRA-Pro (the projection of g onto {B·M + N·A}) would apply. Cosine 1 means the same direction as full fine-tuning.</p>`,
    lineChart({ title: 'Mean cosine with the full gradient over adapted layers', xLabel: 'step', yLabel: 'cosine' }, diagnosticSeries(lines)),
    groupedBars(
      { title: `Cosine with the full gradient per layer (step ${last.step})`, xLabel: 'cosine', seriesNames: ['LoRA', 'LoRA-Pro'], lo: Math.min(0, ...last.diagnostic!.map((d) => d.lora.cosine)), hi: 1 },
      last.diagnostic!.map((d) => ({ label: d.module, values: [d.lora.cosine, d.loraPro.cosine] })),
    ),
    table(['layer', 'LoRA cosine', 'LoRA-Pro cosine', 'LoRA rel. error', 'LoRA-Pro rel. error'], rows),
  ].join('\n');
}

/** The learning-rate search's trials, when the run searched. */
function lrSearchSection(run: RunFile | undefined): string {
  const choice = run?.learningRate;
  if (!choice?.trials?.length) return '';
  const rows = choice.trials.map((t) => [String(t.lr) + (t.lr === choice.lr ? ' (chosen)' : ''), t.status, fmt(t.score ?? Number.NaN), fmt(t.loss ?? Number.NaN)]);
  return ['<h2>Learning-rate search</h2>', `<p class="note">${escapeHtml(`${choice.trials.length} trials of ${choice.trialSteps} steps each, same method, data and seed; of the rates within one standard error${choice.standardError ? ` (${choice.standardError.toFixed(3)})` : ''} of the best validation ${choice.metric}, the lowest is chosen (short trials favour high rates).`)}</p>`, table(['lr', 'trial', `best validation ${choice.metric}`, 'final validation loss'], rows)].join('\n');
}

/** The HTML of one run's report. */
export function renderRunReport(run: RunFile | undefined, lines: readonly MetricsLine[]): string {
  const c = run?.config;
  const title = c ? `${c.method} on ${c.model}` : 'lorapro run';
  const evals = lines.filter((l) => l.eval);
  const metricNames = evalMetricNames(run, lines);
  const lastEval = evals[evals.length - 1]?.eval as Record<string, number> | undefined;
  const last = lines[lines.length - 1];
  const stopped = lines.find((l) => l.stopped)?.stopped;
  const summary: string[][] = c
    ? [
        ['method', `${c.method} (${METHOD_SUMMARIES[c.method]})${c.init && c.init !== 'default' ? `, init ${c.init}` : ''}`],
        ['task', c.task],
        ['data', `${c.train} (${run!.trainExamples} train, ${run!.evalExamples} eval)`],
        ['settings', `rank ${c.rank}, alpha ${c.alpha}, lr ${run!.learningRate?.lr ?? c.lr}, ${c.schedule} schedule, batch ${c.batchSize}×${c.gradAccum}, seed ${c.seed}`],
        ...(run!.learningRate ? [['learning rate', run!.learningRate.note]] : []),
        ['backend', run!.backend],
      ]
    : [];
  if (last) summary.push(['steps', `${last.step}${run?.totalSteps ? ` of ${run.totalSteps}` : ''}`], ['time', formatDuration(last.elapsedS)], ['tokens/s (last)', fmt(last.tokensPerSec, 0)]);
  const body = [
    stopped ? `<p class="stopped">${escapeHtml(stopped)}</p>` : '',
    table(['', ''], summary),
    lrSearchSection(run),
    '<h2>Training</h2>',
    lineChart({ title: 'Training loss', xLabel: 'step', yLabel: 'loss' }, [{ name: 'train loss', points: lines.map((l) => [l.step, l.loss] as const) }, { name: 'eval loss', points: evals.map((l) => [l.step, l.eval!.loss] as const), dashed: true }]),
    lineChart({ title: 'Learning rate', xLabel: 'step', height: 180 }, [{ name: 'lr', points: lines.map((l) => [l.step, l.lr] as const) }]),
    '<h2>Evaluation</h2>',
    evals.length === 0 ? '<p class="note">No evaluation ran.</p>' : lineChart({ title: 'Evaluation metrics', xLabel: 'step' }, metricNames.filter((k) => k !== 'loss').map((k) => ({ name: k, points: evals.map((l) => [l.step, (l.eval as unknown as Record<string, number>)[k]] as const) }))),
    lastEval ? table(['final metric', 'value'], metricNames.map((k) => [k, fmt(lastEval[k])])) : '',
    '<h2>Gradient approximation per layer</h2>',
    diagnosticSection(lines),
  ];
  return page(title, body.filter(Boolean).join('\n'));
}

/** Renders `dir/report.html` from `dir/run.json` and `dir/metrics.jsonl`. */
export async function writeRunReport(dir: string): Promise<string> {
  const path = join(dir, REPORT_FILE);
  await writeTextAtomic(path, renderRunReport(await readRunFile(dir), await readMetrics(join(dir, METRICS_FILE))));
  return path;
}
