// bench:scale: `lorapro train` on random-weight folders of public models' shapes (scale-folders.ts),
// each case in a fresh child process for a few steps, reporting tokens/s (median of the steps after
// the first, from metrics.jsonl), peak RSS (the child's VmHWM from /proc, polled) and what happened
// (trained, refused by the memory check with exit 2, or failed), with PyTorch's float32 LoRA on the
// same shapes, batch and length beside it where python3 imports torch (scripts/torch_scale_bench.py).
// Run: `npm run bench:scale -- [--preset llama-1b,...] [--method lora,lora-pro] [--quantize none,nf4]
//   [--batch 4] [--length 256] [--checkpointing off,on] [--steps 3] [--threads 2] [--dir /tmp/lorapro-scale]
//   [--no-torch] [--json FILE]`, or `--acceptance` for issue 21's cases. Timings need an idle machine.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './timing.js';
import { PRESETS, presetFolder } from './scale-folders.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const TORCH_SCRIPT = fileURLToPath(new URL('../../scripts/torch_scale_bench.py', import.meta.url));
const GIB = 2 ** 30;

export interface ScaleCase {
  readonly preset: string;
  readonly method: string;
  readonly quantize: string;
  readonly batch: number;
  readonly length: number;
  readonly checkpointing: boolean;
  readonly steps: number;
  /** Acceptance: the peak RSS it must stay under (GB, 10^9 bytes), or 'refused' when it must be refused. */
  readonly expect?: { readonly maxRssGb?: number; readonly refused?: boolean; readonly note?: string };
}

/** Issue 21's acceptance cases (2 threads, LoRA r 8 on every linear layer, bf16 folders). */
export const ACCEPTANCE: readonly ScaleCase[] = [
  { preset: 'llama-1b', method: 'lora', quantize: 'none', batch: 4, length: 256, checkpointing: false, steps: 3, expect: { maxRssGb: 12 } },
  { preset: 'llama-1b', method: 'lora', quantize: 'none', batch: 4, length: 256, checkpointing: true, steps: 3, expect: { maxRssGb: 6 } },
  { preset: 'llama-1b', method: 'lora-pro', quantize: 'none', batch: 4, length: 256, checkpointing: true, steps: 3, expect: { maxRssGb: 14, note: '≥ 0.75× the tokens/s of lora checkpointed' } },
  { preset: 'llama-1b', method: 'lora', quantize: 'none', batch: 1, length: 128, checkpointing: false, steps: 4, expect: { note: '≥ 1.5× PyTorch float32 tokens/s' } },
  { preset: 'llama-3b', method: 'lora', quantize: 'nf4', batch: 1, length: 256, checkpointing: true, steps: 3, expect: { maxRssGb: 6 } },
  { preset: 'llama-8b', method: 'lora', quantize: 'nf4', batch: 1, length: 128, checkpointing: true, steps: 2, expect: { maxRssGb: 12 } },
  { preset: 'llama-8b', method: 'lora-pro', quantize: 'none', batch: 1, length: 128, checkpointing: false, steps: 2, expect: { refused: true, note: 'exit 2 within 90 s' } },
];

interface Args {
  cases: ScaleCase[];
  dir: string;
  threads: number;
  torch: boolean;
  json?: string;
  timeoutS: number;
}

function parseArgs(argv: readonly string[]): Args {
  const o: Record<string, string> = {};
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--acceptance' || a === '--no-torch' || a === '--gradient-checkpointing') flags.add(a);
    else if (a.startsWith('--') && argv[i + 1] !== undefined) o[a.slice(2)] = argv[++i];
    else throw new Error(`unknown argument "${a}"; see the header of src/bench/scale.ts`);
  }
  const known = ['preset', 'method', 'quantize', 'batch', 'length', 'checkpointing', 'steps', 'threads', 'dir', 'json', 'timeout-s'];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new Error(`unknown option --${k}; known: ${known.map((x) => `--${x}`).join(', ')}, --acceptance, --no-torch, --gradient-checkpointing`);
  const list = (k: string, fallback: string) => (o[k] ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
  const ints = (k: string, fallback: string) =>
    list(k, fallback).map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} takes positive integers, got "${s}"`);
      return n;
    });
  const presets = list('preset', 'smollm-135m');
  for (const p of presets) if (!PRESETS[p]) throw new Error(`--preset ${p}: choose from ${Object.keys(PRESETS).join(', ')}`);
  const steps = ints('steps', '3')[0];
  const checkpointing = flags.has('--gradient-checkpointing') ? [true] : list('checkpointing', 'off').map((s) => s === 'on');
  let cases: ScaleCase[] = [];
  if (flags.has('--acceptance')) cases = [...ACCEPTANCE];
  else {
    for (const preset of presets)
      for (const method of list('method', 'lora'))
        for (const quantize of list('quantize', 'none'))
          for (const batch of ints('batch', '4'))
            for (const length of ints('length', '256')) for (const ck of checkpointing) cases.push({ preset, method, quantize, batch, length, checkpointing: ck, steps });
  }
  return {
    cases,
    dir: o.dir ?? join(os.tmpdir(), 'lorapro-scale'),
    threads: ints('threads', String(os.cpus().length))[0],
    torch: !flags.has('--no-torch'),
    json: o.json,
    timeoutS: ints('timeout-s', '3600')[0],
  };
}

export interface CaseResult {
  readonly case: ScaleCase;
  readonly status: 'trained' | 'refused' | 'failed' | 'timed out';
  readonly message?: string;
  readonly tokensPerSec?: number;
  /** Peak RSS of the child over the whole run (VmHWM), and at step boundaries (metrics.jsonl). */
  readonly peakRssBytes?: number;
  readonly stepPeakRssBytes?: number;
  readonly seconds: number;
  readonly torch?: { tokensPerSec: number; peakRssBytes: number } | { missing: string };
}

/** VmHWM of `pid` in bytes, or 0 once it is gone. */
function vmHwm(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs a child to its end, polling its peak RSS; stderr kept for messages. */
function runChild(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutS: number): Promise<{ code: number | null; stdout: string; stderr: string; peak: number; seconds: number; timedOut: boolean }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peak = 0;
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20000)));
    const poll = setInterval(() => (peak = Math.max(peak, vmHwm(child.pid!))), 100);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutS * 1000);
    child.on('close', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, stdout, stderr, peak, seconds: (Date.now() - started) / 1000, timedOut });
    });
  });
}

async function runLorapro(c: ScaleCase, folder: { dir: string; train: string; eval: string }, args: Args, out: string): Promise<Omit<CaseResult, 'case' | 'torch'>> {
  rmSync(out, { recursive: true, force: true });
  const flags = ['train', '--model', folder.dir, '--train', folder.train, '--eval', folder.eval, '--task', 'causal-lm', '--method', c.method, '--rank', '8', '--target-modules', 'all-linear'];
  flags.push('--lr', '1e-4', '--max-steps', String(c.steps), '--batch-size', String(c.batch), '--max-length', String(c.length), '--eval-every', String(c.steps), '--save-every', String(c.steps), '--no-diagnostics', '--out', out);
  if (c.quantize !== 'none') flags.push('--quantize', c.quantize);
  if (c.checkpointing) flags.push('--gradient-checkpointing');
  const r = await runChild(process.execPath, [CLI, ...flags], { ...process.env, LORAPRO_THREADS: String(args.threads) }, args.timeoutS);
  const lastLine = (s: string) => s.trim().split('\n').filter(Boolean).slice(-1)[0] ?? '';
  if (r.timedOut) return { status: 'timed out', seconds: r.seconds, peakRssBytes: r.peak };
  if (r.code === 2) return { status: 'refused', message: r.stderr.trim().split('\n').find((l) => l.startsWith('lorapro train')) ?? lastLine(r.stderr), seconds: r.seconds, peakRssBytes: r.peak };
  if (r.code !== 0) return { status: 'failed', message: `exit ${r.code}: ${lastLine(r.stderr)}`, seconds: r.seconds, peakRssBytes: r.peak };
  const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; tokensPerSec: number; peakRssBytes: number });
  const after = metrics.filter((m) => m.step > 1).map((m) => m.tokensPerSec);
  return {
    status: 'trained',
    tokensPerSec: median(after.length > 0 ? after : metrics.map((m) => m.tokensPerSec)),
    peakRssBytes: r.peak,
    stepPeakRssBytes: Math.max(...metrics.map((m) => m.peakRssBytes)),
    seconds: r.seconds,
  };
}

/** The first python that imports torch, or why none does. */
function findTorch(): { python: string } | { missing: string } {
  for (const python of process.env.LORAPRO_PYTHON ? [process.env.LORAPRO_PYTHON] : ['/usr/bin/python3', 'python3']) {
    if (spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) return { python };
  }
  return { missing: 'no python3 here imports torch (Debian: apt-get install python3-torch)' };
}

async function runTorch(python: string, c: ScaleCase, dir: string, args: Args): Promise<CaseResult['torch']> {
  const r = await runChild(python, [TORCH_SCRIPT, '--config', join(dir, 'config.json'), '--batch', String(c.batch), '--length', String(c.length), '--steps', String(c.steps), '--threads', String(args.threads), '--rank', '8'], process.env, args.timeoutS);
  const line = r.stdout.trim().split('\n').filter(Boolean).slice(-1)[0];
  if (r.code !== 0 || !line) return { missing: `PyTorch failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}` };
  const j = JSON.parse(line) as { tokens_per_s: number; peak_rss_mb: number };
  return { tokensPerSec: j.tokens_per_s, peakRssBytes: Math.max(r.peak, j.peak_rss_mb * 2 ** 20) };
}

const gb = (b?: number) => (b === undefined ? '' : (b / 1e9).toFixed(2));

/** The results as a markdown table (GB = 10^9 bytes, as the issue's limits). */
export function markdownTable(results: readonly CaseResult[]): string {
  const rows = results.map((r) => {
    const c = r.case;
    const torch = r.torch && 'tokensPerSec' in r.torch ? r.torch : undefined;
    const within = c.expect?.refused ? (r.status === 'refused' && r.seconds <= 90 ? 'yes' : 'no') : c.expect?.maxRssGb !== undefined ? (r.status === 'trained' && (r.peakRssBytes ?? Infinity) <= c.expect.maxRssGb * 1e9 ? 'yes' : 'no') : '';
    return [
      c.preset, c.method, c.quantize, `${c.batch} × ${c.length}`, c.checkpointing ? 'yes' : 'no',
      r.status === 'trained' ? r.tokensPerSec!.toFixed(1) : r.status, gb(r.peakRssBytes), gb(r.stepPeakRssBytes),
      torch ? torch.tokensPerSec.toFixed(1) : '', torch ? gb(torch.peakRssBytes) : '', torch && r.tokensPerSec ? (r.tokensPerSec / torch.tokensPerSec).toFixed(2) : '',
      c.expect ? `${c.expect.refused ? 'refused' : c.expect.maxRssGb !== undefined ? `≤ ${c.expect.maxRssGb} GB` : ''}${c.expect.note ? ` ${c.expect.note}` : ''}` : '', within,
    ];
  });
  const head = ['model shape', 'method', 'quantize', 'batch × length', 'checkpointing', 'lorapro tokens/s', 'peak RSS GB', 'RSS at steps GB', 'PyTorch tokens/s', 'PyTorch RSS GB', 'lorapro / PyTorch', 'target', 'met'];
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (line: string) => console.error(line);
  const torch = args.torch ? findTorch() : { missing: '--no-torch' };
  if ('missing' in torch) log(`PyTorch: ${torch.missing}`);
  const results: CaseResult[] = [];
  for (const [i, c] of args.cases.entries()) {
    const p = PRESETS[c.preset];
    const folder = await presetFolder(args.dir, p, { length: c.length, examples: Math.max(16, c.batch * c.steps * 2), log });
    log(`[${i + 1}/${args.cases.length}] ${c.preset} ${c.method} quantize ${c.quantize} batch ${c.batch} × ${c.length}${c.checkpointing ? ' checkpointed' : ''}, ${c.steps} steps`);
    const ours = await runLorapro(c, folder, args, join(args.dir, 'runs', `${i}`));
    log(`  lorapro: ${ours.status}${ours.tokensPerSec ? `, ${ours.tokensPerSec.toFixed(1)} tokens/s` : ''}${ours.peakRssBytes ? `, peak RSS ${gb(ours.peakRssBytes)} GB` : ''}${ours.message ? `: ${ours.message}` : ''}`);
    // PyTorch: float32 LoRA, the same shapes; once per (preset, batch, length, checkpointing) for lora cases
    const twin = 'python' in torch && c.method === 'lora' && c.quantize === 'none' ? await runTorch(torch.python, c, folder.dir, args) : 'python' in torch ? undefined : torch;
    if (twin && 'tokensPerSec' in twin) log(`  PyTorch: ${twin.tokensPerSec.toFixed(1)} tokens/s, peak RSS ${gb(twin.peakRssBytes)} GB`);
    results.push({ case: c, ...ours, torch: twin });
  }
  const machine = `${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'}, ${os.cpus().length} cores, ${(os.totalmem() / 1e9).toFixed(1)} GB, Node ${process.version}, LORAPRO_THREADS ${args.threads}`;
  console.log(`bench:scale on ${machine}; random-weight bf16 folders in ${args.dir}; LoRA r 8 on every linear layer; tokens/s the median of the steps after the first\n`);
  console.log(markdownTable(results));
  const jsonPath = args.json ?? join(args.dir, 'results.json');
  writeFileSync(jsonPath, JSON.stringify({ machine, date: new Date().toISOString(), results }, null, 2) + '\n');
  console.error(`results: ${jsonPath}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && existsSync(CLI)) await main();
