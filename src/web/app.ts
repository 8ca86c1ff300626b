// The playground page: picks a model, data, methods and settings, trains each method in its own Web
// Worker (one after another), and draws loss, evaluation and per-layer diagnostic charts as SVG. It
// imports no TF.js: everything heavy happens in worker.ts.
import type { Files, FromWorker, RunInfo, StartRun, ToWorker } from './protocol.js';
import type { SessionEval, SessionStep } from '../train/session.js';
import { decodeDatasetBytes } from '../data/read.js';

interface StudioConfig {
  /** The server's ready-made model folder, or null: dropped folders only. */
  readonly model: { readonly name: string; readonly files: string[] } | null;
  readonly tasks: { readonly name: string; readonly description: string }[];
  readonly methods: string[];
  readonly defaultMethods: string[];
}

interface Run {
  readonly id: number;
  readonly method: string;
  readonly color: string;
  readonly worker: Worker;
  info?: RunInfo;
  steps: SessionStep[];
  evals: SessionEval[];
  /** 'closed': its worker was ended to free its memory; its charts and numbers stay. */
  status: 'starting' | 'training' | 'paused' | 'completed' | 'diverged' | 'failed' | 'closed';
  message?: string;
}

const COLORS = ['#2f6fdf', '#d9480f', '#2b8a3e', '#862e9c', '#c2255c', '#0b7285', '#e67700'];
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const state = {
  config: undefined as StudioConfig | undefined,
  droppedModel: undefined as { name: string; files: Files } | undefined,
  droppedData: undefined as { train: { name: string; text: string }; eval?: { name: string; text: string } } | undefined,
  runs: [] as Run[],
  queue: [] as string[],
  nextId: 1,
  /** The last answer of "Try it". */
  lastPrediction: undefined as Extract<FromWorker, { type: 'prediction' }> | undefined,
};

/** For tests and the curious: the runs as the page holds them. */
(window as unknown as { studio: unknown }).studio = state;

function showError(message: string | undefined): void {
  const box = $('error');
  box.hidden = message === undefined;
  box.textContent = message ?? '';
}

function radio(name: string): string {
  return (document.querySelector(`input[name="${name}"]:checked`) as HTMLInputElement).value;
}

function readFiles(list: FileList | File[]): { name: string; file: File }[] {
  return [...list].map((file) => ({ name: (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name, file }));
}

/** Files of a dropped folder (drag and drop of a directory) or of a plain multi-file drop. */
async function droppedFiles(e: DragEvent): Promise<File[]> {
  const items = [...(e.dataTransfer?.items ?? [])];
  const entries = items.map((i) => (i as DataTransferItem & { webkitGetAsEntry?: () => FileSystemEntry | null }).webkitGetAsEntry?.()).filter(Boolean) as FileSystemEntry[];
  if (entries.length === 0) return [...(e.dataTransfer?.files ?? [])];
  const out: File[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) out.push(await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej)));
    else {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      const children = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
      for (const c of children) await walk(c);
    }
  };
  for (const entry of entries) await walk(entry);
  const top = entries.length === 1 && entries[0].isDirectory ? entries[0].name : undefined;
  return top ? out.map((f) => Object.defineProperty(f, 'webkitRelativePath', { value: `${top}/${f.name}` })) : out;
}

async function takeModelFiles(files: File[]): Promise<void> {
  showError(undefined);
  const named = readFiles(files);
  const folder = named[0]?.name.includes('/') ? named[0].name.split('/')[0] : 'dropped folder';
  const contents: Files = {};
  for (const { name, file } of named) contents[name.split('/').pop()!] = await file.arrayBuffer();
  const names = Object.keys(contents);
  const problems = [
    names.includes('config.json') ? '' : 'config.json',
    names.some((n) => n.endsWith('.safetensors')) ? '' : 'model.safetensors (or shards)',
    names.includes('tokenizer.json') ? '' : 'tokenizer.json',
  ].filter(Boolean);
  if (problems.length) {
    showError(`${folder}: not a usable Hugging Face model folder; missing ${problems.join(', ')} (got ${names.join(', ') || 'no files'})`);
    return;
  }
  state.droppedModel = { name: folder, files: contents };
  (document.querySelector('input[name="model-source"][value="folder"]') as HTMLInputElement).checked = true;
  $('model-status').textContent = `${folder}: ${names.join(', ')}`;
}

async function takeDataFiles(files: File[]): Promise<void> {
  showError(undefined);
  let named: { name: string; text: string }[];
  try {
    named = await Promise.all(files.map(async (f) => ({ name: f.name, text: decodeDatasetBytes(new Uint8Array(await f.arrayBuffer()), f.name) })));
  } catch (e) {
    showError((e as Error).message); // not UTF-8: named with the byte and line, as the CLI does
    return;
  }
  const bad = named.find((f) => !/\.(csv|jsonl|json)$/i.test(f.name));
  if (bad) {
    showError(`${bad.name}: not a dataset file; give a .csv, .jsonl or .json file`);
    return;
  }
  const evalFile = named.length > 1 ? named.find((f) => /eval|valid|test/i.test(f.name)) : undefined;
  const train = named.find((f) => f !== evalFile)!;
  state.droppedData = { train, eval: evalFile };
  (document.querySelector('input[name="data-source"][value="file"]') as HTMLInputElement).checked = true;
  $('data-status').textContent = `train: ${train.name} (${train.text.length} chars)${evalFile ? `, eval: ${evalFile.name}` : ', eval: a seeded 10% of it'}`;
}

function dropZone(zone: HTMLElement, input: HTMLInputElement, take: (files: File[]) => Promise<void>): void {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    droppedFiles(e).then(take).catch((err) => showError((err as Error).message));
  });
  input.addEventListener('change', () => take([...(input.files ?? [])]).catch((err) => showError((err as Error).message)));
}

let shippedFiles: Promise<Files> | undefined;

function loadShipped(): Promise<Files> {
  const model = state.config!.model!;
  shippedFiles ??= (async () => {
    const out: Files = {};
    for (const f of model.files) {
      const res = await fetch(`/models/${model.name}/${f}`);
      if (!res.ok) throw new Error(`/models/${model.name}/${f}: HTTP ${res.status}`);
      out[f] = await res.arrayBuffer();
    }
    return out;
  })();
  return shippedFiles;
}

async function runData(): Promise<StartRun['data']> {
  if (radio('data-source') === 'file') {
    if (!state.droppedData) throw new Error('drop a training file first, or pick a built-in task');
    return state.droppedData;
  }
  const name = $<HTMLSelectElement>('builtin-task').value;
  const res = await fetch(`/api/tasks/${encodeURIComponent(name)}`);
  if (!res.ok) throw new Error(`built-in task ${name}: ${await res.text()}`);
  return { splits: await res.json() };
}

function numberField(id: string): number | undefined {
  const raw = $<HTMLInputElement>(id).value.trim();
  if (raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${id.replace('-', ' ')}: "${raw}" is not a number`);
  return n;
}

function options(method: string): Record<string, unknown> {
  const o: Record<string, unknown> = {
    method,
    task: radio('data-source') === 'builtin' ? 'classification' : $<HTMLSelectElement>('task').value,
    maxSteps: numberField('max-steps'),
    batchSize: numberField('batch-size'),
    rank: numberField('rank'),
    alpha: numberField('alpha'),
    maxLength: numberField('max-length'),
    seed: numberField('seed'),
    evalEvery: numberField('eval-every'),
    lr: numberField('lr'),
  };
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

async function train(): Promise<void> {
  showError(undefined);
  const methods = [...document.querySelectorAll<HTMLInputElement>('#methods input:checked')].map((i) => i.value);
  if (methods.length === 0) throw new Error('pick at least one method');
  state.queue = methods;
  await startNext();
}

async function startNext(): Promise<void> {
  const method = state.queue.shift();
  if (method === undefined) {
    setBusy(false);
    return;
  }
  setBusy(true);
  const model = radio('model-source') === 'folder' || !state.config!.model ? state.droppedModel : { name: state.config!.model.name, files: await loadShipped() };
  if (!model) throw new Error('drop a model folder first, or pick the shipped base');
  const data = await runData();
  const run: Run = { id: state.nextId++, method, color: COLORS[state.runs.length % COLORS.length], worker: new Worker('worker.js', { type: 'module' }), steps: [], evals: [], status: 'starting' };
  state.runs.push(run);
  run.worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(run, e.data);
  run.worker.onerror = (e) => {
    // An uncaught error in the worker: it may still post the error it caught, which names the file; wait for it.
    e.preventDefault();
    const message = e.message ? `the training worker stopped: ${e.message}${e.filename ? ` (${e.filename}:${e.lineno})` : ''}` : 'the training worker stopped (worker.js failed to load or crashed)';
    setTimeout(() => {
      if (run.status === 'starting' || run.status === 'training') onMessage(run, { type: 'error', message });
    }, 1000);
  };
  const backend = $<HTMLSelectElement>('backend').value || undefined;
  // Model files are copied (not transferred) so the next run can reuse them.
  send(run, { type: 'start', id: run.id, backend: backend as StartRun['backend'], model, data, options: options(method) });
  render();
}

function send(run: Run, m: ToWorker, transfer: Transferable[] = []): void {
  run.worker.postMessage(m, transfer);
}

function onMessage(run: Run, m: FromWorker): void {
  switch (m.type) {
    case 'ready':
      run.info = m.info;
      run.status = 'training';
      $('engine-badge').textContent = `engine: ${m.info.engineLine}`;
      break;
    case 'log':
      $('progress').textContent = m.line;
      break;
    case 'step':
      run.steps.push(m.step);
      break;
    case 'eval':
      run.evals.push(m.eval);
      break;
    case 'paused':
      run.status = 'paused';
      break;
    case 'done':
      run.status = m.status;
      run.message = m.message;
      if (m.message) showError(m.message);
      startNext().catch(fail);
      break;
    case 'prediction':
      state.lastPrediction = m;
      $('try-out').textContent = m.classes ? m.classes.map((c) => `${c.label}: ${(100 * c.probability).toFixed(1)}%`).join('   ') : `${m.text}${m.completion}`;
      break;
    case 'adapter':
      for (const [name, bytes] of Object.entries(m.files)) download(name, bytes);
      break;
    case 'error':
      if (run.status === 'starting' || run.status === 'training') {
        run.status = 'failed';
        run.worker.onerror = null;
        run.worker.terminate();
        state.queue = [];
        setBusy(false);
      }
      run.message = m.message;
      showError(m.message);
      break;
  }
  render();
}

function download(name: string, bytes: ArrayBuffer): void {
  const url = URL.createObjectURL(new Blob([bytes]));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function fail(err: unknown): void {
  showError((err as Error).message ?? String(err));
  setBusy(false);
}

function setBusy(busy: boolean): void {
  $<HTMLButtonElement>('train').disabled = busy;
  $<HTMLButtonElement>('pause').disabled = !busy;
  if (!busy) $('pause').textContent = 'Stop';
}

function current(): Run | undefined {
  return state.runs.find((r) => r.status === 'training' || r.status === 'paused' || r.status === 'starting');
}

function togglePause(): void {
  const run = current();
  if (!run) return;
  const pausing = $('pause').textContent === 'Stop';
  send(run, { type: pausing ? 'pause' : 'resume' });
  if (!pausing) run.status = 'training';
  $('pause').textContent = pausing ? 'Continue' : 'Stop';
}

// ---- drawing --------------------------------------------------------------------------------------

const svgNs = 'http://www.w3.org/2000/svg';

function el(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function niceRange(values: number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi];
}

/** Lines of (x, y) series on one pair of axes. */
function lineChart(svg: SVGSVGElement, series: { color: string; points: [number, number][] }[], yLabel: (v: number) => string): void {
  svg.replaceChildren();
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    svg.append(el('text', { x: 150, y: 110 }, 'no data yet'));
    return;
  }
  const [W, H, L, B, T, R] = [420, 220, 44, 22, 8, 10];
  const [x0, x1] = niceRange(all.map((p) => p[0]));
  const [y0, y1] = niceRange(all.map((p) => p[1]));
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - y0) / (y1 - y0)) * (H - B - T);
  svg.append(el('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#ccc' }), el('line', { x1: L, y1: T, x2: L, y2: H - B, stroke: '#ccc' }));
  for (const y of [y0, (y0 + y1) / 2, y1]) svg.append(el('text', { x: 2, y: sy(y) + 3 }, yLabel(y)));
  for (const x of [x0, x1]) svg.append(el('text', { x: sx(x), y: H - 6, 'text-anchor': x === x1 ? 'end' : 'start' }, String(Math.round(x))));
  const path = (points: [number, number][]) => points.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
  for (const s of series) {
    if (s.points.length === 0) continue;
    if (s.points.length < 30) {
      svg.append(el('path', { d: path(s.points), fill: 'none', stroke: s.color, 'stroke-width': 1.6 }));
      for (const [x, y] of s.points) svg.append(el('circle', { cx: sx(x), cy: sy(y), r: 2, fill: s.color }));
      continue;
    }
    // many noisy points (per-step losses): faint raw line, and a moving mean over 10 % of the run on top
    svg.append(el('path', { d: path(s.points), fill: 'none', stroke: s.color, 'stroke-width': 0.8, 'stroke-opacity': 0.25 }));
    const w = Math.max(2, Math.round(s.points.length / 10));
    const smooth = s.points.map(([x], i) => [x, s.points.slice(Math.max(0, i - w + 1), i + 1).reduce((n, p) => n + p[1], 0) / Math.min(w, i + 1)] as [number, number]);
    svg.append(el('path', { d: path(smooth), fill: 'none', stroke: s.color, 'stroke-width': 2 }));
  }
}

/** Per-layer cos(g̃, g) of LoRA (grey) and LoRA-Pro (colour) at the last evaluation of `run`. */
function diagChart(svg: SVGSVGElement, run: Run | undefined): void {
  svg.replaceChildren();
  const diag = run?.evals.at(-1)?.diagnostic;
  $('diag-run').textContent = run ? `${run.method} (step ${run.evals.at(-1)?.step ?? '—'})` : '—';
  if (!diag || diag.length === 0) {
    svg.append(el('text', { x: 330, y: 100 }, 'an adapter method’s evaluations show it here'));
    return;
  }
  const [W, H, L, B, T] = [860, 200, 30, 16, 10];
  const slot = (W - L - 10) / diag.length;
  const sy = (v: number) => H - B - Math.max(0, v) * (H - B - T);
  svg.append(el('line', { x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: '#ccc' }));
  for (const v of [0, 0.5, 1]) svg.append(el('text', { x: 4, y: sy(v) + 3 }, v.toFixed(1)));
  diag.forEach((d, i) => {
    const x = L + i * slot;
    const w = Math.max(1, slot / 2 - 1);
    svg.append(el('rect', { x, y: sy(d.lora.cosine), width: w, height: H - B - sy(d.lora.cosine), fill: '#adb5bd' }, undefined));
    svg.append(el('rect', { x: x + w, y: sy(d.loraPro.cosine), width: w, height: H - B - sy(d.loraPro.cosine), fill: run!.color }));
    const title = el('title', {}, `${d.module}: LoRA ${d.lora.cosine.toFixed(3)}, LoRA-Pro ${d.loraPro.cosine.toFixed(3)}`);
    svg.lastChild!.appendChild(title);
  });
  svg.append(el('rect', { x: W - 200, y: 4, width: 10, height: 10, fill: '#adb5bd' }), el('text', { x: W - 186, y: 13 }, 'LoRA'));
  svg.append(el('rect', { x: W - 140, y: 4, width: 10, height: 10, fill: run!.color }), el('text', { x: W - 126, y: 13 }, 'LoRA-Pro'));
}

function metricOf(run: Run): 'accuracy' | 'loss' {
  return run.info?.task === 'causal-lm' ? 'loss' : 'accuracy';
}

function fmt(n: number | undefined, digits = 3): string {
  return n === undefined || !Number.isFinite(n) ? '—' : Number(n.toPrecision(digits)).toString();
}

function render(): void {
  const runs = state.runs;
  lineChart($<SVGSVGElement & HTMLElement>('loss-chart'), runs.map((r) => ({ color: r.color, points: r.steps.map((s) => [s.step, s.loss] as [number, number]) })), (v) => v.toFixed(2));
  const metric = runs[0] ? metricOf(runs[0]) : 'accuracy';
  $('metric-caption').textContent = `evaluation ${metric}`;
  $('metric-head').textContent = `eval ${metric}`;
  lineChart($<SVGSVGElement & HTMLElement>('eval-chart'), runs.map((r) => ({ color: r.color, points: r.evals.map((e) => [e.step, (metric === 'accuracy' ? 100 : 1) * (e.metrics[metric] ?? Number.NaN)] as [number, number]) })), (v) => (metric === 'accuracy' ? `${v.toFixed(0)}%` : v.toFixed(2)));
  diagChart($<SVGSVGElement & HTMLElement>('diag-chart'), [...runs].reverse().find((r) => r.evals.some((e) => e.diagnostic?.length)));

  const body = $('runs-table').querySelector('tbody')!;
  body.replaceChildren(
    ...runs.map((r) => {
      const last = r.steps.at(-1);
      const recent = r.steps.slice(-10);
      const tps = recent.length ? recent.reduce((n, s) => n + s.tokens, 0) / recent.reduce((n, s) => n + s.tokens / s.tokensPerSec, 0) : undefined;
      const ev = r.evals.at(-1)?.metrics[metricOf(r)];
      const tr = document.createElement('tr');
      tr.dataset.run = String(r.id);
      const cells = [
        `<span class="swatch" style="background:${r.color}"></span>`,
        r.method,
        r.info?.engine ?? '…',
        fmt(r.info?.lr, 2),
        `${last?.step ?? 0} / ${r.info?.totalSteps ?? '?'}${r.status === 'training' || r.status === 'completed' ? '' : ` (${r.status})`}`,
        fmt(last?.loss, 4),
        ev === undefined ? '—' : metricOf(r) === 'accuracy' ? `${(100 * ev).toFixed(1)}%` : fmt(ev, 4),
        fmt(tps, 3),
        last ? `${last.elapsedS.toFixed(1)} s` : '—',
        '',
      ];
      tr.innerHTML = cells.map((c) => `<td>${c}</td>`).join('');
      if (r.status === 'completed' && r.method !== 'full') {
        const b = document.createElement('button');
        b.textContent = 'adapter ⤓';
        b.title = 'download adapter_config.json and adapter_model.safetensors (PEFT)';
        b.className = 'download';
        b.onclick = () => send(r, { type: 'export' });
        tr.lastElementChild!.append(b);
      }
      if (r.status === 'completed' || r.status === 'diverged') {
        const b = document.createElement('button');
        b.textContent = '×';
        b.title = 'free this run’s memory (its worker, model and optimiser state); its charts stay';
        b.className = 'close';
        b.onclick = () => {
          r.worker.terminate();
          r.status = 'closed';
          render();
        };
        tr.lastElementChild!.append(' ', b);
      }
      return tr;
    }),
  );
  const run = current();
  const last = run?.steps.at(-1);
  if (run && last && run.info) {
    const perStep = last.elapsedS / last.step;
    $('progress').textContent = `${run.method}: step ${last.step} of ${run.info.totalSteps}, ${fmt(last.tokensPerSec, 3)} tokens/s, about ${Math.ceil(perStep * (run.info.totalSteps - last.step))} s to go`;
  }
  const pick = $<HTMLSelectElement>('try-run');
  const chosen = pick.value;
  const usable = runs.filter((r) => r.status === 'completed' || r.status === 'paused');
  pick.replaceChildren(...usable.map((r) => new Option(`#${r.id} ${r.method}`, String(r.id), false, String(r.id) === chosen)));
}

async function setup(): Promise<void> {
  const res = await fetch('/api/studio');
  const config = (await res.json()) as StudioConfig;
  state.config = config;
  if (config.model) $('shipped-name').textContent = config.model.name;
  else {
    const shipped = document.querySelector('input[name="model-source"][value="shipped"]') as HTMLInputElement;
    shipped.disabled = true;
    (document.querySelector('input[name="model-source"][value="folder"]') as HTMLInputElement).checked = true;
    $('shipped-name').textContent = 'none served: start lorapro studio --model DIR, or drop a folder';
  }
  $<HTMLSelectElement>('builtin-task').replaceChildren(...config.tasks.map((t) => new Option(`${t.name} — ${t.description}`, t.name)));
  $('methods').replaceChildren(
    ...config.methods.map((m) => {
      const label = document.createElement('label');
      label.innerHTML = `<input type="checkbox" value="${m}" ${config.defaultMethods.includes(m) ? 'checked' : ''}> ${m}`;
      return label;
    }),
  );
  for (const b of ['webgpu', 'webgl', 'wasm', 'cpu']) $<HTMLSelectElement>('backend').append(new Option(b, b));
  dropZone($('model-drop'), $<HTMLInputElement>('model-files'), takeModelFiles);
  dropZone($('data-drop'), $<HTMLInputElement>('data-files'), takeDataFiles);
  $('train').onclick = () => train().catch(fail);
  $('pause').onclick = togglePause;
  $('try-go').onclick = () => {
    const run = state.runs.find((r) => String(r.id) === $<HTMLSelectElement>('try-run').value);
    if (!run) return showError('finish a run first, then try it on text');
    send(run, { type: 'predict', text: $<HTMLInputElement>('try-text').value });
  };
  render();
  document.body.dataset.ready = 'true';
}

setup().catch(fail);
