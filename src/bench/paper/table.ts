// Tables of method runs: one row per method, test metrics as mean ± std over seeds, plus the cost
// columns (time, tokens/s, peak memory) and the gradient-approximation diagnostic.
import { meanStd } from '../../report/compare.js';
import { humanBytes } from '../../train/run-memory.js';
import type { MethodRun } from './runs.js';

const finite = (xs: readonly (number | undefined)[]): number[] => xs.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));

/** "0.8123 ± 0.0101" in percent points ("81.2 ± 1.0"), or "-" when nothing finished. */
export function pctCell(xs: readonly (number | undefined)[]): string {
  const v = finite(xs);
  if (v.length === 0) return '-';
  const { mean, std } = meanStd(v.map((x) => 100 * x));
  return v.length > 1 ? `${mean.toFixed(1)} ± ${std.toFixed(1)}` : mean.toFixed(1);
}

/** Runs grouped by a key, in first-seen order. */
export function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) out.set(key(x), [...(out.get(key(x)) ?? []), x]);
  return out;
}

export interface CostCells {
  readonly time: string;
  readonly tokensPerSec: string;
  readonly peak: string;
  readonly cosine: string;
}

/** Time per run, tokens/s, peak tensor memory, and cos(g̃, g) of LoRA → LoRA-Pro for one method's runs. */
export function costCells(runs: readonly MethodRun[]): CostCells {
  const time = meanStd(runs.map((r) => r.result.elapsedS)).mean;
  const tps = finite(runs.map((r) => r.tokensPerSec));
  const peak = Math.max(0, ...runs.map((r) => r.result.peakTensorBytes));
  const diag = runs.map((r) => r.diagnostic).filter((d) => d !== undefined);
  const cosine = diag.length ? `${meanStd(diag.map((d) => d.lora)).mean.toFixed(2)} → ${meanStd(diag.map((d) => d.pro)).mean.toFixed(2)}` : '-';
  return { time: `${time.toFixed(1)} s`, tokensPerSec: tps.length ? meanStd(tps).mean.toFixed(0) : '-', peak: humanBytes(peak), cosine };
}

/** A Markdown table from a header and rows (first column left-aligned, the rest right-aligned). */
export function markdownTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The same table as aligned plain text for the terminal. */
export function textTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export const DIAGNOSTIC_NOTE =
  'cos(g̃, g): mean over adapted layers, at the last evaluation, of the cosine between the full gradient dL/dW and the equivalent gradient of plain LoRA → that of LoRA-Pro (1 = the same direction); measured on the run\'s own adapters, so it is also shown for lora-plus and rslora.';
