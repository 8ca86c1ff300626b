// Inline SVG charts for the HTML reports, drawn from plain numbers: no chart library, no network.

export interface Series {
  readonly name: string;
  readonly points: ReadonlyArray<readonly [number, number]>; // [x, y]; non-finite y values are skipped
  readonly color?: string;
  readonly dashed?: boolean;
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel?: string;
  readonly width?: number;
  readonly height?: number;
}

/** A colour-blind-friendly palette (Okabe–Ito), cycled by series index. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** "Nice" tick values covering [lo, hi] (1, 2, 5 × 10^k steps). */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const fmtTick = (v: number): string => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

/**
 * A line chart with axes, ticks and a legend. Returns an `<svg>` element as a string.
 *
 * @example
 *   lineChart({ title: 'Training loss', xLabel: 'step' }, [{ name: 'lora', points: [[1, 2.3], [2, 2.1]] }]);
 */
export function lineChart(opts: ChartOptions, series: readonly Series[]): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 300;
  const m = { left: 64, right: 16, top: 28, bottom: 44 };
  const all = series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const title = `<text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold">${escapeHtml(opts.title)}</text>`;
  if (all.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="60" font-family="sans-serif" font-size="12">${title}<text x="${W / 2}" y="44" text-anchor="middle" fill="#666">no data</text></svg>`;
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - Math.max(1e-3, Math.abs(y0) * 0.1), y1 + Math.max(1e-3, Math.abs(y1) * 0.1)];
  const pad = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - pad, y1 + pad];
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const sy = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const parts: string[] = [title];
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${fmtTick(t)}</text>`);
  }
  for (const t of ticks(x0, x1)) {
    parts.push(`<text x="${sx(t).toFixed(1)}" y="${H - m.bottom + 16}" text-anchor="middle">${fmtTick(t)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 8}" text-anchor="middle">${escapeHtml(opts.xLabel)}</text>`);
  if (opts.yLabel) parts.push(`<text transform="translate(14 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(opts.yLabel)}</text>`);
  const colorOf = (s: Series, i: number) => s.color ?? PALETTE[i % PALETTE.length];
  series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const d = pts.map(([x, y], k) => `${k ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    if (pts.length > 1) parts.push(`<path d="${d}" fill="none" stroke="${colorOf(s, i)}" stroke-width="1.6"${dash}/>`);
    if (pts.length <= 30) for (const [x, y] of pts) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${colorOf(s, i)}"/>`);
  });
  // The legend on a light box above the lines, top right.
  const lx = W - m.right - 150;
  parts.push(`<rect x="${lx - 6}" y="${m.top + 3}" width="150" height="${series.length * 15 + 6}" fill="white" fill-opacity="0.85" stroke="#ccc"/>`);
  series.forEach((s, i) => {
    const ly = m.top + 17 + i * 15;
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${colorOf(s, i)}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${lx + 24}" y="${ly}">${escapeHtml(s.name)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">${parts.join('')}</svg>`;
}

export interface BarGroup {
  readonly label: string;
  readonly values: readonly number[]; // one per bar series
}

/**
 * Horizontal grouped bars (one group per label, one bar per series), for per-layer values in a
 * fixed range such as cosines in [lo, hi].
 */
export function groupedBars(opts: ChartOptions & { seriesNames: readonly string[]; lo: number; hi: number }, groups: readonly BarGroup[]): string {
  const W = opts.width ?? 640;
  const barH = 7;
  const groupH = opts.seriesNames.length * barH + 8;
  const m = { left: 260, right: 60, top: 44, bottom: 28 };
  const H = m.top + m.bottom + groups.length * groupH;
  const sx = (v: number) => m.left + ((Math.min(opts.hi, Math.max(opts.lo, v)) - opts.lo) / (opts.hi - opts.lo)) * (W - m.left - m.right);
  const parts = [`<text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold">${escapeHtml(opts.title)}</text>`];
  opts.seriesNames.forEach((name, i) => {
    const x = m.left + i * 120;
    parts.push(`<rect x="${x}" y="26" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text x="${x + 14}" y="35">${escapeHtml(name)}</text>`);
  });
  for (const t of ticks(opts.lo, opts.hi, 4)) {
    parts.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${m.top}" y2="${H - m.bottom}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${sx(t).toFixed(1)}" y="${H - m.bottom + 14}" text-anchor="middle">${fmtTick(t)}</text>`);
  }
  groups.forEach((g, k) => {
    const y = m.top + k * groupH;
    parts.push(`<text x="${m.left - 6}" y="${y + groupH / 2 + 3}" text-anchor="end">${escapeHtml(g.label)}</text>`);
    g.values.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      const zero = sx(Math.max(opts.lo, Math.min(opts.hi, 0))); // bars start at 0 (or the axis end nearest it)
      const [a, b] = [Math.min(zero, sx(v)), Math.max(zero, sx(v))];
      parts.push(`<rect x="${a.toFixed(1)}" y="${y + i * barH + 2}" width="${Math.max(0.5, b - a).toFixed(1)}" height="${barH - 1}" fill="${PALETTE[i % PALETTE.length]}"><title>${escapeHtml(`${g.label} ${opts.seriesNames[i]}: ${v.toFixed(4)}`)}</title></rect>`);
    });
  });
  if (opts.xLabel) parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 4}" text-anchor="middle">${escapeHtml(opts.xLabel)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">${parts.join('')}</svg>`;
}
