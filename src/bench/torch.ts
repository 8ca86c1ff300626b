// lorapro against PyTorch on the same CPU, in one run: the training step of ./train-case.ts and the
// in-repo PyTorch reference of the same models (scripts/torch_train_bench.py, run by the system python3
// when it can import torch, e.g. Debian's python3-torch), timed in alternating rounds so load from other
// processes lands on both alike. GPT-2 and Llama style, S (d=128, 4 layers) and M (d=256, 6 layers),
// full and LoRA, at each thread count; LoRA-Pro is timed on lorapro's side for its cost over LoRA.
// Run: `npm run bench:torch -- [--archs gpt2,llama] [--sizes S,M] [--methods full,lora] [--threads 1,2] [--rounds 5] [--json]`.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { tf } from '../engine/tf.js';
import { describeEngine, engineName, useBackend } from '../engine/backend.js';
import { configureNative } from '../engine/native.js';
import { median } from './timing.js';
import { SIZES, benchShape, disposeCase, makeCase, step, trainableCount, type Arch, type BenchShape } from './train-case.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/torch_train_bench.py', import.meta.url));
const PYTHONS = ['/usr/bin/python3', 'python3'];

type Method = 'full' | 'lora';

interface Args {
  rssChild?: string; // internal: one lorapro config in this fresh process, its peak RSS printed
  archs: Arch[];
  sizes: (keyof typeof SIZES)[];
  methods: Method[];
  threads: number[];
  rounds: number;
  warmup: number;
  json: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { archs: ['gpt2', 'llama'], sizes: ['S', 'M'], methods: ['full', 'lora'], threads: [1, 2], rounds: 5, warmup: 2, json: false };
  const list = <T extends string>(flag: string, raw: string | undefined, allowed: readonly T[]): T[] => {
    const items = (raw ?? '').split(',').map((x) => x.trim()).filter(Boolean);
    const bad = items.filter((x) => !allowed.includes(x as T));
    if (items.length === 0 || bad.length > 0) throw new Error(`${flag} takes a comma list of ${allowed.join(', ')}; got "${raw ?? ''}"`);
    return items as T[];
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--json') args.json = true;
    else if (flag === '--rss-child') (args.rssChild = value), i++;
    else if (flag === '--archs') (args.archs = list(flag, value, ['gpt2', 'llama'] as const)), i++;
    else if (flag === '--sizes') (args.sizes = list(flag, value, ['S', 'M'] as const)), i++;
    else if (flag === '--methods') (args.methods = list(flag, value, ['full', 'lora'] as const)), i++;
    else if (flag === '--threads' || flag === '--rounds' || flag === '--warmup') {
      const nums = (value ?? '').split(',').map(Number);
      if (nums.length === 0 || nums.some((n) => !Number.isInteger(n) || n < (flag === '--warmup' ? 0 : 1))) throw new Error(`${flag} needs ${flag === '--threads' ? 'a comma list of ' : ''}positive integers, got "${value ?? ''}"`);
      if (flag === '--threads') args.threads = nums;
      else if (flag === '--rounds') args.rounds = nums[0];
      else args.warmup = nums[0];
      i++;
    } else throw new Error(`unknown argument "${flag}" (expected --archs, --sizes, --methods, --threads, --rounds, --warmup, --json)`);
  }
  return args;
}

interface Torch {
  python: string;
  version: string;
  /** OPENBLAS_CORETYPE for the reference, when OpenBLAS would otherwise fall back to generic kernels. */
  coreType?: string;
  blasNote: string;
}

/**
 * OpenBLAS picks its kernels from the CPU model; on a model newer than the library (Debian 12's
 * OpenBLAS 0.3.21 on an Emerald Rapids Xeon, measured 2026-12-03) it falls back to "Prescott", SSE3
 * kernels that made PyTorch's matrix products ~4x slower. The reference gets the best kernels the
 * CPU's instruction set allows instead, so the comparison is against PyTorch at its fastest.
 */
function blasCore(python: string): Pick<Torch, 'coreType' | 'blasNote'> {
  if (process.env.OPENBLAS_CORETYPE) return { coreType: process.env.OPENBLAS_CORETYPE, blasNote: `OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE} (from the environment)` };
  const r = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8', env: { ...process.env, OPENBLAS_VERBOSE: '2' } });
  const core = /Core: (\w+)/.exec(`${r.stdout}${r.stderr}`)?.[1];
  if (core === undefined) return { blasNote: 'BLAS kernels as PyTorch chose them' };
  if (core !== 'Prescott') return { blasNote: `OpenBLAS core ${core}` };
  const flags = spawnSync('grep', ['-m1', '^flags', '/proc/cpuinfo'], { encoding: 'utf8' }).stdout;
  const better = /\bavx512f\b/.test(flags) ? 'SkylakeX' : /\bavx2\b/.test(flags) ? 'Haswell' : undefined;
  return better === undefined
    ? { blasNote: 'OpenBLAS core Prescott' }
    : { coreType: better, blasNote: `OpenBLAS core ${better} (OPENBLAS_CORETYPE; it detected Prescott, generic SSE3 kernels, on this CPU)` };
}

/** The first python that imports torch, or why none does. */
function findTorch(): Torch | { missing: string } {
  const candidates = process.env.LORAPRO_PYTHON ? [process.env.LORAPRO_PYTHON] : PYTHONS;
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python, version: r.stdout.trim(), ...blasCore(python) };
  }
  return { missing: `none of ${candidates.join(', ')} can import torch (Debian: apt-get install python3-torch libopenblas0-pthread)` };
}

/**
 * The PyTorch side at one thread count: one process answering one JSON line per request. The thread
 * count is set through the environment as well as torch.set_num_threads, which does not reach OpenBLAS's
 * own pool (left alone, a "1-thread" PyTorch multiplies matrices on every core).
 */
class TorchWorker {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly replies: AsyncIterator<string>;
  private stderr = '';

  constructor(torch: Torch, threads: number) {
    const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), ...(torch.coreType ? { OPENBLAS_CORETYPE: torch.coreType } : {}) };
    this.child = spawn(torch.python, [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.child.stderr.on('data', (chunk: Buffer) => void (this.stderr += chunk.toString()));
    this.replies = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async request(body: Record<string, unknown>): Promise<Record<string, number>> {
    this.child.stdin.write(`${JSON.stringify(body)}\n`);
    const next = await this.replies.next();
    if (next.done) throw new Error(`the PyTorch reference exited: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const reply = JSON.parse(next.value) as Record<string, number>;
    if ('error' in reply) throw new Error(`the PyTorch reference: ${String(reply.error)}`);
    return reply;
  }

  close(): void {
    this.child.stdin.end();
  }
}

interface Row {
  arch: Arch;
  size: string;
  method: Method;
  threads: number;
  trainable: number;
  torchTrainable: number;
  lorapro: number; // tokens/s, median
  torch: number;
  ratio: number;
  proOverLora?: number; // lora-pro / lora step time on lorapro's side
}

async function measure(torch: TorchWorker, size: keyof typeof SIZES, shape: BenchShape, method: Method, threads: number, args: Args): Promise<Row> {
  const tokens = shape.batch * shape.context;
  const setup = await torch.request({ cmd: 'setup', ...shape, method, threads });
  const ours = makeCase(method, shape);
  const pro = method === 'lora' ? makeCase('lora-pro', shape) : undefined;
  const ms = { lorapro: [] as number[], torch: [] as number[], pro: [] as number[] };
  try {
    for (let round = 0; round < args.warmup + args.rounds; round++) {
      const keep = round >= args.warmup;
      // Alternate which side goes first, so neither always follows the other's cache footprint.
      const sides = round % 2 === 0 ? (['lorapro', 'torch'] as const) : (['torch', 'lorapro'] as const);
      for (const side of sides) {
        if (side === 'torch') {
          const { ms: t } = await torch.request({ cmd: 'step' });
          if (keep) ms.torch.push(t);
        } else {
          const start = performance.now();
          await step(ours);
          if (keep) ms.lorapro.push(performance.now() - start);
          if (pro !== undefined) {
            const s = performance.now();
            await step(pro);
            if (keep) ms.pro.push(performance.now() - s);
          }
        }
      }
    }
  } finally {
    disposeCase(ours);
    if (pro !== undefined) disposeCase(pro);
  }
  const lorapro = (tokens * 1000) / median(ms.lorapro);
  const torchTps = (tokens * 1000) / median(ms.torch);
  return {
    arch: shape.arch, size, method, threads, trainable: trainableCount(ours), torchTrainable: setup.trainable,
    lorapro, torch: torchTps, ratio: lorapro / torchTps, proOverLora: pro === undefined ? undefined : median(ms.pro) / median(ms.lorapro),
  };
}

function table(rows: readonly Row[]): string {
  const lines = ['| model | method | threads | lorapro tokens/s | PyTorch tokens/s | lorapro / PyTorch | LoRA-Pro / LoRA step |', '| --- | --- | ---: | ---: | ---: | ---: | ---: |'];
  for (const r of rows) {
    lines.push(`| ${r.arch} ${r.size} | ${r.method} | ${r.threads} | ${Math.round(r.lorapro)} | ${Math.round(r.torch)} | ${r.ratio.toFixed(2)}× | ${r.proOverLora === undefined ? '' : r.proOverLora.toFixed(2)} |`);
  }
  return lines.join('\n');
}

const RSS_STEPS = 3;

/** The internal --rss-child mode: RSS_STEPS steps of one config ("arch,size,method") in this fresh process. */
async function rssChild(spec: string): Promise<void> {
  const [arch, size, method] = spec.split(',') as [Arch, keyof typeof SIZES, Method];
  await useBackend();
  const c = makeCase(method, benchShape(arch, size));
  for (let i = 0; i < RSS_STEPS; i++) await step(c);
  console.log(JSON.stringify({ peakRssMb: process.resourceUsage().maxRSS / 1024 }));
}

/**
 * Peak resident memory of training one config, each side in a fresh process of its own (the timing
 * run holds every model it made, and a wasm heap never shrinks, so its peak says nothing per model).
 */
async function peakRss(torch: Torch, arch: Arch, size: keyof typeof SIZES, method: Method): Promise<{ lorapro: number; torch: number }> {
  const self = fileURLToPath(import.meta.url);
  const ours = spawnSync(process.execPath, [self, '--rss-child', `${arch},${size},${method}`], { encoding: 'utf8' });
  if (ours.status !== 0) throw new Error(`lorapro's memory run failed: ${ours.stderr.trim()}`);
  const worker = new TorchWorker(torch, availableThreads());
  try {
    await worker.request({ cmd: 'setup', ...benchShape(arch, size), method, threads: availableThreads() });
    for (let i = 0; i < RSS_STEPS; i++) await worker.request({ cmd: 'step' });
    return { lorapro: (JSON.parse(ours.stdout.trim().split('\n').pop()!) as { peakRssMb: number }).peakRssMb, torch: (await worker.request({ cmd: 'rss' })).peak_rss_mb };
  } finally {
    worker.close();
  }
}

const availableThreads = () => os.availableParallelism();

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.rssChild !== undefined) return rssChild(args.rssChild);
  const found = findTorch();
  if ('missing' in found) {
    console.log(`bench:torch skipped: ${found.missing}`);
    return;
  }
  await useBackend();
  const native = engineName() === 'native';
  if (!native) console.log(`note: lorapro runs on ${describeEngine()} (no native engine): its thread count is 1 whatever --threads says`);
  const rows: Row[] = [];
  const started = performance.now();
  const startedAt = new Date().toISOString();
  for (const threads of args.threads) {
    const torch = new TorchWorker(found, threads);
    try {
      if (native) configureNative({ threads });
      for (const arch of args.archs) {
        for (const size of args.sizes) {
          for (const method of args.methods) {
            const row = await measure(torch, size, benchShape(arch, size), method, threads, args);
            if (row.trainable !== row.torchTrainable) throw new Error(`${arch} ${size} ${method}: lorapro trains ${row.trainable} parameters, the PyTorch reference ${row.torchTrainable}: not the same model`);
            rows.push(row);
            if (!args.json) console.error(`${arch} ${size} ${method} ${threads} thread(s): lorapro ${Math.round(row.lorapro)} tokens/s, PyTorch ${Math.round(row.torch)} (${row.ratio.toFixed(2)}×)`);
          }
        }
      }
    } finally {
      torch.close();
    }
  }
  const memory: { model: string; method: Method; lorapro: number; torch: number }[] = [];
  for (const arch of args.archs) for (const size of args.sizes) for (const method of args.methods) memory.push({ model: `${arch} ${size}`, method, ...(await peakRss(found, arch, size, method)) });
  const date = `${startedAt} to ${new Date().toISOString()}`;
  const machine = `${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}, TF.js ${tf.version_core}, engine ${describeEngine()}; PyTorch ${found.version} (${found.python}, ${found.blasNote})`;
  if (args.json) {
    console.log(JSON.stringify({ date, machine, rounds: args.rounds, rows, peakRssMb: memory }));
    return;
  }
  console.log(`Training step tokens/s, lorapro vs PyTorch, context 128, batch 16, vocab 1024, LoRA rank 8 on all linear layers`);
  console.log(`${date}; ${machine}; median of ${args.rounds} steps each after ${args.warmup} warm-up, alternating (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  console.log(table(rows));
  console.log(`\nPeak RSS of ${RSS_STEPS} training steps, each in a fresh process (${availableThreads()} threads):\n`);
  console.log('| model | method | lorapro MB | PyTorch MB | lorapro / PyTorch |\n| --- | --- | ---: | ---: | ---: |');
  for (const m of memory) console.log(`| ${m.model} | ${m.method} | ${m.lorapro.toFixed(0)} | ${m.torch.toFixed(0)} | ${(m.lorapro / m.torch).toFixed(2)}× |`);
}

await main();
