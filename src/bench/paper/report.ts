// docs/results.md of the paper benchmark: the test-accuracy table (tasks × methods, mean ± std over
// seeds, with an average column), costs and the gradient diagnostic per method, the learning-rate
// grid, and SVG plots (validation accuracy and the diagnostic over steps) in a folder beside it.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { loadBuiltinTask } from '../../tasks/builtin.js';
import { meanStd } from '../../report/compare.js';
import { lineChart, PALETTE, type Series } from '../../report/svg.js';
import type { MethodRun } from './runs.js';
import type { PaperResult } from './paper.js';
import { costCells, DIAGNOSTIC_NOTE, groupBy, markdownTable, pctCell, textTable } from './table.js';

export interface ReportContext {
  readonly command: string;
  readonly machine: string;
  readonly baseNote: string;
  readonly wallS: number;
  readonly date: Date;
  /** Runs at a time (each in its own process); tokens/s are per run. */
  readonly jobs?: number;
}

const testAcc = (r: MethodRun) => r.test?.accuracy;

/** Mean test accuracy of a method on a task over its seeds (NaN when none finished). */
function taskMean(runs: readonly MethodRun[]): number {
  const v = runs.map(testAcc).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? meanStd(v).mean : Number.NaN;
}

/** Rows: method, one cell per task (test accuracy %, mean ± std over seeds), the average over tasks. */
export function accuracyTable(res: PaperResult): { head: string[]; rows: string[][] } {
  const { tasks, methods } = res.plan;
  const head = ['method', ...tasks, 'average'];
  const rows = methods.map((m) => {
    const perTask = tasks.map((t) => res.runs.filter((r) => r.task === t && r.method === m));
    const means = perTask.map(taskMean);
    const avg = means.every(Number.isFinite) ? (100 * means.reduce((a, b) => a + b, 0)) / means.length : Number.NaN;
    return [m, ...perTask.map((rs) => pctCell(rs.map(testAcc))), Number.isFinite(avg) ? avg.toFixed(1) : '-'];
  });
  const majority = tasks.map((t) => 100 * loadBuiltinTask(t).majorityBaseline.test);
  rows.push(['(majority label)', ...majority.map((v) => v.toFixed(1)), (majority.reduce((a, b) => a + b, 0) / majority.length).toFixed(1)]);
  return { head, rows };
}

/** Per method over every task and seed: time per run, tokens/s, peak tensor memory, cos(g̃, g). */
export function costTable(res: PaperResult): { head: string[]; rows: string[][] } {
  const head = ['method', 'time / run', 'tokens/s', 'peak tensors', 'cos(g̃,g) LoRA → Pro'];
  const rows = res.plan.methods.map((m) => {
    const c = costCells(res.runs.filter((r) => r.method === m));
    return [m, c.time, c.tokensPerSec, c.peak, c.cosine];
  });
  return { head, rows };
}

/** Mean over seeds of the lora-pro runs' last diagnostic on `task`: [plain LoRA, LoRA-Pro] cosine. */
function taskCosines(res: PaperResult, task: string): { lora: number; pro: number } | undefined {
  const ds = res.runs.filter((r) => r.task === task && r.method === 'lora-pro' && r.diagnostic).map((r) => r.diagnostic!);
  if (!ds.length) return undefined;
  return { lora: meanStd(ds.map((d) => d.lora)).mean, pro: meanStd(ds.map((d) => d.pro)).mean };
}

/**
 * Per task: LoRA's and LoRA-Pro's test accuracy, the difference, full fine-tuning's, and how close the
 * lora-pro runs' updates were to the full gradient (plain LoRA's direction → LoRA-Pro's), so a task
 * where LoRA-Pro does not win can be read against its diagnostic.
 */
export function headToHeadTable(res: PaperResult): { head: string[]; rows: string[][] } {
  const mean = (m: string, t: string) => 100 * taskMean(res.runs.filter((r) => r.task === t && r.method === m));
  const f = (v: number, sign = false) => (Number.isFinite(v) ? `${sign && v >= 0 ? '+' : ''}${v.toFixed(1)}` : '-');
  const head = ['task', 'lora', 'lora-pro', 'lora-pro − lora', 'full', 'cos(g̃,g) LoRA → Pro'];
  const rows = res.plan.tasks.map((t) => {
    const c = taskCosines(res, t);
    return [t, f(mean('lora', t)), f(mean('lora-pro', t)), f(mean('lora-pro', t) - mean('lora', t), true), f(mean('full', t)), c ? `${c.lora.toFixed(2)} → ${c.pro.toFixed(2)}` : '-'];
  });
  return { head, rows };
}

/** Validation accuracy of every grid point (first seed); the chosen one in bold. */
function gridTable(res: PaperResult): string {
  const chosen = new Set(res.runs.map((r) => r.dir));
  const rows = [...groupBy(res.gridRuns, (r) => `${r.task}|${r.method}`)].map(([key, rs]) => {
    const [task, method] = key.split('|');
    return [task, method, rs.map((r) => { const cell = `${r.lr}: ${Number.isFinite(r.validation) ? (100 * r.validation).toFixed(1) : 'diverged'}`; return chosen.has(r.dir) ? `**${cell}**` : cell; }).join(', ')];
  });
  return markdownTable(['task', 'method', 'lr: best validation acc % (chosen in bold)'], rows);
}

/** Mean over seeds, per step, of validation accuracy (%) of each method on `task`. */
function accuracyPlot(res: PaperResult, task: string): string {
  const series: Series[] = res.plan.methods.map((m, i) => {
    const rs = res.runs.filter((r) => r.task === task && r.method === m);
    const steps = new Map<number, number[]>();
    for (const r of rs) for (const l of r.lines) if (l.eval?.accuracy !== undefined) steps.set(l.step, [...(steps.get(l.step) ?? []), 100 * l.eval.accuracy]);
    return { name: m, color: PALETTE[i % PALETTE.length], points: [...steps].sort((a, b) => a[0] - b[0]).map(([s, v]) => [s, meanStd(v).mean] as const) };
  });
  return lineChart({ title: `${task}: validation accuracy (mean over seeds)`, xLabel: 'step', yLabel: 'accuracy %' }, series);
}

/** Per method, the diagnostic's mean cosine over steps (first seed): solid LoRA, dashed LoRA-Pro. */
function diagnosticPlot(res: PaperResult, task: string): string {
  const series: Series[] = res.plan.methods.flatMap((m, i) => {
    const r = res.runs.find((x) => x.task === task && x.method === m);
    const pts = (pick: (d: { lora: { cosine: number }; loraPro: { cosine: number } }) => number) =>
      (r?.lines ?? []).filter((l) => l.diagnostic?.length).map((l) => [l.step, l.diagnostic!.reduce((s, d) => s + pick(d), 0) / l.diagnostic!.length] as const);
    const lora = pts((d) => d.lora.cosine);
    return lora.length ? [{ name: `${m} LoRA`, color: PALETTE[i % PALETTE.length], points: lora }, { name: `${m} LoRA-Pro`, color: PALETTE[i % PALETTE.length], dashed: true, points: pts((d) => d.loraPro.cosine) }] : [];
  });
  return lineChart({ title: `${task}: cos(equivalent gradient, full gradient), mean over layers`, xLabel: 'step', yLabel: 'cosine' }, series);
}

/** LoRA-Pro's average minus LoRA's, and the tasks where LoRA-Pro's mean is higher. */
function verdict(res: PaperResult): string {
  const { tasks, methods } = res.plan;
  if (!methods.includes('lora') || !methods.includes('lora-pro')) return '';
  const mean = (m: string, t: string) => taskMean(res.runs.filter((r) => r.task === t && r.method === m));
  const wins = tasks.filter((t) => mean('lora-pro', t) > mean('lora', t));
  const diff = (100 * tasks.reduce((s, t) => s + mean('lora-pro', t) - mean('lora', t), 0)) / tasks.length;
  const fullGap = methods.includes('full') ? (100 * tasks.reduce((s, t) => s + mean('full', t) - mean('lora-pro', t), 0)) / tasks.length : Number.NaN;
  const seeds = res.plan.seeds.length;
  return `On these runs LoRA-Pro's average test accuracy is ${diff >= 0 ? '+' : ''}${diff.toFixed(1)} points over LoRA's; LoRA-Pro's mean is higher on ${wins.length} of ${tasks.length} task${tasks.length > 1 ? 's' : ''}${wins.length ? ` (${wins.join(', ')})` : ''}${Number.isFinite(fullGap) ? `, and full fine-tuning is ${fullGap >= 0 ? fullGap.toFixed(1) + ' points above' : (-fullGap).toFixed(1) + ' points below'} LoRA-Pro on average` : ''}. ${seeds < 3 ? `With ${seeds} seed${seeds > 1 ? 's' : ''} the differences are not tested for significance; read them as indicative only.` : 'Compare the differences with the seeds\' standard deviations before calling one method better.'}`;
}

/** Writes `resultsPath` (Markdown) and its plots into `<name>-plots/` beside it; returns the Markdown. */
export async function writePaperResults(res: PaperResult, resultsPath: string, ctx: ReportContext): Promise<string> {
  const plotsDir = join(dirname(resultsPath), `${basename(resultsPath, '.md')}-plots`);
  await mkdir(plotsDir, { recursive: true });
  const plots: string[] = [];
  for (const task of res.plan.tasks) {
    for (const [kind, svg] of [['accuracy', accuracyPlot(res, task)], ['diagnostic', diagnosticPlot(res, task)]] as const) {
      const file = join(plotsDir, `${task}-${kind}.svg`);
      await writeFile(file, `${svg}\n`);
      plots.push(`![${task} ${kind}](${relative(dirname(resultsPath), file)})`);
    }
  }
  const p = res.plan;
  const acc = accuracyTable(res);
  const cost = costTable(res);
  const taskCount = p.tasks.length === 5 ? 'five' : String(p.tasks.length);
  const md = `# LoRA-Pro vs LoRA vs full fine-tuning on ${taskCount} built-in task${p.tasks.length > 1 ? 's' : ''}

Does LoRA-Pro beat LoRA on classification and come near full fine-tuning (Wang et al., ICLR 2025,
arXiv 2407.18242)? The paper used T5-base on GLUE; this is the same comparison, offline, on lorapro's
built-in tasks (docs/TASKS.md) from a small byte-level base model.

**Command:** \`${ctx.command}\`  
**Date:** ${ctx.date.toISOString()}  
**Machine:** ${ctx.machine}  
**Base model:** ${ctx.baseNote}  
**Setup:** methods ${p.methods.join(', ')}; LoRA rank ${p.rank}, alpha ${p.alpha}, every linear layer (same targets for every adapter method; the classification head is trained in full by all); ${p.steps} AdamW steps of batch ${p.batchSize}, linear schedule with 10% warmup; learning rate per method and task chosen from the grid below by the best validation accuracy on seed ${p.seeds[0]}, then run with seeds ${p.seeds.join(', ')}; each run's best checkpoint on validation is scored once on the 500-example test split.  
**Wall time:** ${(ctx.wallS / 60).toFixed(1)} min for ${new Set([...res.runs, ...res.gridRuns].map((r) => r.dir)).size} training runs${ctx.jobs && ctx.jobs > 1 ? `, ${ctx.jobs} at a time (one process each)` : ''}.

## Test accuracy (%), mean ± std over ${p.seeds.length} seed${p.seeds.length > 1 ? 's' : ''}

${markdownTable(acc.head, acc.rows)}

${verdict(res)}

${res.plan.methods.includes('lora') && res.plan.methods.includes('lora-pro') ? `### LoRA-Pro vs LoRA, task by task

${(() => { const h = headToHeadTable(res); return markdownTable(h.head, h.rows); })()}

The last column is the lora-pro runs' diagnostic at their last evaluation (mean over seeds and layers): the cosine between the full fine-tuning gradient and the weight update plain LoRA's gradients would imply, then the one LoRA-Pro's adjusted gradients imply. LoRA-Pro is built to raise it; whether a closer update direction turns into test accuracy within ${res.plan.steps} steps is what the accuracy columns answer.

` : ''}## Cost and gradient approximation per method

${markdownTable(cost.head, cost.rows)}

Time and tokens/s are per training run (evaluation included in time, not in tokens/s); peak tensors is the largest \`tf.memory().numBytes\` while a step held its gradients. ${DIAGNOSTIC_NOTE}

## Learning-rate grid

${gridTable(res)}

## Plots

${plots.join('\n\n')}
`;
  await mkdir(dirname(resultsPath), { recursive: true });
  await writeFile(resultsPath, md);
  return md;
}

/** The accuracy table as plain text for the terminal. */
export function printableTable(res: PaperResult): string {
  const acc = accuracyTable(res);
  return textTable(acc.head, acc.rows);
}
