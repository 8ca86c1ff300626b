// Tokens per second of the same training step in Node (native and wasm engines) and in chromium's
// playground worker (wasm, webgl, webgpu on SwiftShader), measured in one run: the shipped base,
// LoRA-Pro, a built-in task. Each side runs TrainSession, the code the page runs; the median of the
// steps after the first `warmup` (shader compilation, first allocations) is reported.
//
//   node dist/bench/browser.js [--steps 8] [--warmup 2] [--task name-gender] [--method lora-pro]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { useBackend, describeEngine } from '../engine/backend.js';
import { FileSet } from '../io/file-set.js';
import { loadBuiltinTask } from '../tasks/builtin.js';
import { TrainSession } from '../train/session.js';
import { startStudio } from '../run/studio.js';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '8' }, warmup: { type: 'string', default: '2' }, task: { type: 'string', default: 'name-gender' }, method: { type: 'string', default: 'lora-pro' }, model: { type: 'string', default: 'models/lorapro-base' } } });
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const SETTINGS = { method: values.method!, maxSteps: 1000, batchSize: 8, maxLength: 16, lr: 1e-3, evalEvery: 100000 };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function nodeRun(engine: 'native' | 'wasm'): Promise<{ engine: string; tps: number }> {
  await useBackend(engine);
  const files = new FileSet(values.model!, readdirSync(values.model!).map((f) => [f, readFileSync(join(values.model!, f))] as const));
  const task = loadBuiltinTask(values.task!);
  const session = await TrainSession.create({ model: files, data: { splits: { name: task.name, labels: task.labels, train: task.train, validation: task.validation } }, options: SETTINGS });
  const rates: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const s = await session.next();
    if (i >= warmup) rates.push(s.tokensPerSec);
  }
  session.dispose();
  return { engine: `Node, ${describeEngine()}`, tps: median(rates) };
}

async function browserRuns(backends: string[]): Promise<{ engine: string; tps: number | string }[]> {
  const executablePath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
  if (!executablePath) return backends.map((b) => ({ engine: `chromium, ${b}`, tps: 'no chromium (apt-get install chromium)' }));
  const studio = await startStudio({ model: values.model!, port: 0, host: '127.0.0.1' });
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan', '--use-angle=swiftshader'] });
  const out: { engine: string; tps: number | string }[] = [];
  try {
    for (const backend of backends) {
      const page = await browser.newPage();
      await page.goto(studio.url);
      await page.waitForSelector('body[data-ready=true]');
      await page.selectOption('#builtin-task', values.task!);
      await page.selectOption('#backend', backend);
      for (const box of await page.$$('#methods input')) await ((await box.getAttribute('value')) === SETTINGS.method ? box.check() : box.uncheck());
      for (const [id, v] of [['#max-steps', SETTINGS.maxSteps], ['#batch-size', SETTINGS.batchSize], ['#max-length', SETTINGS.maxLength], ['#lr', SETTINGS.lr], ['#eval-every', SETTINGS.evalEvery]] as const) await page.fill(id, String(v));
      await page.click('#train');
      const done = await page
        .waitForFunction((n) => { const r = (window as any).studio.runs.at(-1); return r && (r.steps.length >= n || r.status === 'failed'); }, warmup + steps, { timeout: 600_000, polling: 500 })
        .then(() => page.evaluate(() => { const r = (window as any).studio.runs.at(-1); return { status: r.status as string, message: r.message as string | undefined, engine: r.info?.engine as string, rates: r.steps.map((s: { tokensPerSec: number }) => s.tokensPerSec) as number[] }; }))
        .catch((e: Error) => ({ status: 'failed', message: e.message, engine: backend, rates: [] as number[] }));
      out.push({ engine: `chromium, ${done.engine}${backend === 'webgpu' || backend === 'webgl' ? ' (SwiftShader)' : ''}`, tps: done.status === 'failed' ? `failed: ${done.message}` : median(done.rates.slice(warmup, warmup + steps)) });
      await page.close();
    }
  } finally {
    await browser.close();
    await studio.close();
  }
  return out;
}

const started = new Date();
const rows: { engine: string; tps: number | string }[] = [];
rows.push(await nodeRun('native').catch((e: Error) => ({ engine: 'Node, native', tps: `unavailable: ${e.message}` })));
rows.push(await nodeRun('wasm'));
rows.push(...(await browserRuns(['wasm', 'webgl', 'webgpu'])));
const base = rows.find((r) => r.engine.includes('Node, wasm'))!.tps as number;
console.log(`\n${values.method} on ${values.model}, ${values.task}, batch ${SETTINGS.batchSize} × ${SETTINGS.maxLength} tokens; median of ${steps} steps after ${warmup} warm-up; ${started.toISOString().slice(0, 16)}–${new Date().toISOString().slice(11, 16)} UTC\n`);
console.log('| where | tokens/s | vs Node wasm |\n| --- | ---: | ---: |');
for (const r of rows) console.log(`| ${r.engine} | ${typeof r.tps === 'number' ? r.tps.toFixed(0) : r.tps} | ${typeof r.tps === 'number' ? `${(r.tps / base).toFixed(2)}×` : '—'} |`);
