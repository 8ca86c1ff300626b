// The playground in a real browser: Debian's chromium driven by playwright-core (.ci/run installs
// chromium when it is missing). A LoRA-Pro run of 20 steps on the shipped base trains in the page's
// worker on wasm and on webgpu (SwiftShader: correctness only); its losses are the Node trainer's;
// "best available" passes over SwiftShader (a software GPU) for wasm;
// the adapter the page downloads loads in Node and gives the page's outputs; bad files show errors.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { loadAdapter } from '../adapters/peft-files.js';
import { loadPretrained } from '../models/pretrained.js';
import { loadTokenizer } from '../io/tokenizer.js';
import { trainConfig } from '../train/config.js';
import { train } from '../run/train.js';
import { startStudio, type Studio } from '../run/studio.js';

const BASE = 'models/lorapro-base';
const CHROMIUM = process.env.LORAPRO_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
/** SwiftShader gives headless chromium a WebGPU adapter (and WebGL) without a GPU. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan', '--use-angle=swiftshader'];
/** The run both sides train: small enough for the test suite, the settings a user would pick. */
const RUN = { task: 'name-gender', method: 'lora-pro', steps: 20, batchSize: 8, lr: 1e-3, maxLength: 16, evalEvery: 10 };

interface PageRun {
  status: string;
  message?: string;
  info?: { engine: string; engineLine: string; totalSteps: number };
  losses: number[];
  gradNorms: number[];
  evals: { step: number; accuracy?: number; diagnostic: number }[];
}

/**
 * The webgpu run goes on after Stop to all 20 steps and both evaluations (~5.5 min on SwiftShader on a
 * 2-core machine); LORAPRO_STUDIO_QUICK=1 stops it at two steps for a quick local check.
 */
const FULL_WEBGPU = process.env.LORAPRO_STUDIO_QUICK !== '1';

const skip = !CHROMIUM ? 'no chromium (apt-get install chromium; .ci/run does)' : !existsSync(BASE) ? `no ${BASE}` : false;

describe('studio in chromium', { skip }, () => {
  let studio: Studio;
  let browser: Browser;
  let nodeLosses: number[];
  let nodeGradNorms: number[];
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'lorapro-studio-'));
    studio = await startStudio({ model: BASE, port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    await useBackend('wasm'); // the page's wasm backend runs the same kernels
    const config = trainConfig({ model: BASE, train: `builtin:${RUN.task}`, task: 'classification', method: RUN.method, maxSteps: RUN.steps, batchSize: RUN.batchSize, lr: RUN.lr, maxLength: RUN.maxLength, evalEvery: RUN.evalEvery, out: join(work, 'node') });
    const result = await train(config);
    assert.equal(result.status, 'completed');
    const lines = (await readFile(join(work, 'node', 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { loss: number; gradNorm: number });
    nodeLosses = lines.map((l) => l.loss);
    nodeGradNorms = lines.map((l) => l.gradNorm);
    assert.equal(nodeLosses.length, RUN.steps);
  });

  after(async () => {
    await browser?.close();
    await studio?.close();
    await useBackend();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function openPage(): Promise<Page> {
    const page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    if (process.env.LORAPRO_DEBUG) page.on('console', (m) => console.error(`page: ${m.text()}`));
    if (process.env.LORAPRO_DEBUG) page.on('worker', (w) => w.on('console', (m) => console.error(`worker: ${m.text()}`)));
    await page.goto(studio.url);
    await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
    assert.deepEqual(errors, []);
    return page;
  }

  async function startInPage(page: Page, backend: string): Promise<number> {
    await page.selectOption('#builtin-task', RUN.task);
    await page.selectOption('#backend', backend);
    for (const box of await page.$$('#methods input')) {
      if ((await box.getAttribute('value')) === RUN.method) await box.check();
      else await box.uncheck();
    }
    await page.fill('#max-steps', String(RUN.steps));
    await page.fill('#batch-size', String(RUN.batchSize));
    await page.fill('#lr', String(RUN.lr));
    await page.fill('#max-length', String(RUN.maxLength));
    await page.fill('#eval-every', String(RUN.evalEvery));
    const before = await page.evaluate(() => (window as any).studio.runs.length as number);
    await page.click('#train');
    return before;
  }

  function readRun(page: Page): Promise<PageRun> {
    return page.evaluate(() => {
      const r = (window as any).studio.runs.at(-1);
      return { status: r.status, message: r.message, info: r.info, losses: r.steps.map((s: { loss: number }) => s.loss), gradNorms: r.steps.map((s: { gradNorm: number }) => s.gradNorm), evals: r.evals.map((e: any) => ({ step: e.step, accuracy: e.metrics.accuracy, diagnostic: e.diagnostic?.length ?? 0 })) };
    });
  }

  async function trainInPage(page: Page, backend: string): Promise<PageRun> {
    const before = await startInPage(page, backend);
    await page.waitForFunction((n) => { const runs = (window as any).studio.runs; return runs.length > n && ['completed', 'failed', 'diverged'].includes(runs[runs.length - 1].status); }, before, { timeout: 240_000 });
    return readRun(page);
  }

  test('wasm: 20 LoRA-Pro steps in the worker give the Node trainer losses; the adapter downloads and loads in Node with the page outputs', async () => {
    const page = await openPage();
    const run = await trainInPage(page, 'wasm');
    assert.equal(run.status, 'completed', run.message);
    assert.equal(run.info?.engine, 'wasm');
    assert.equal(run.losses.length, RUN.steps);
    run.losses.forEach((l, i) => assert.ok(Math.abs(l - nodeLosses[i]) <= 1e-5 * Math.abs(nodeLosses[i]), `step ${i + 1}: page ${l}, node ${nodeLosses[i]}`));
    run.gradNorms.forEach((g, i) => assert.ok(Math.abs(g - nodeGradNorms[i]) <= 1e-5 * nodeGradNorms[i], `step ${i + 1}: page gradient norm ${g}, node ${nodeGradNorms[i]}`));
    assert.deepEqual(run.evals.map((e) => e.step), [10, 20]);
    assert.ok(run.evals.every((e) => e.diagnostic > 0 && e.accuracy !== undefined), 'evaluations carry accuracy and the per-layer diagnostic');

    const text = 'Margaret';
    await page.selectOption('#try-run', { index: 0 });
    await page.fill('#try-text', text);
    await page.click('#try-go');
    await page.waitForFunction(() => (window as any).studio.lastPrediction !== undefined);
    const classes = await page.evaluate(() => (window as any).studio.lastPrediction.classes as { label: string; probability: number }[]);
    assert.ok((await page.textContent('#try-out'))!.includes(classes[0].label));

    const dir = join(work, 'downloaded');
    const downloads = new Map<string, string>();
    const got = new Promise<void>((done) => {
      page.on('download', async (d) => {
        const path = join(work, `dl-${d.suggestedFilename()}`);
        await d.saveAs(path);
        downloads.set(d.suggestedFilename(), path);
        if (downloads.size === 2) done();
      });
    });
    await page.click('#runs-table button.download');
    await got;
    assert.deepEqual([...downloads.keys()].sort(), ['adapter_config.json', 'adapter_model.safetensors']);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    for (const [name, path] of downloads) await writeFile(join(dir, name), await readFile(path));

    const model = await loadPretrained(BASE, { task: 'sequence-classification', numLabels: classes.length });
    try {
      await loadAdapter(model, dir);
      const tok = await loadTokenizer(BASE);
      const ids = tok.encode(text, { addSpecialTokens: true }).slice(0, RUN.maxLength);
      const probs = tf.tidy(() => tf.softmax(model.classify(tf.tensor2d([ids], [1, ids.length], 'int32'), tf.ones([1, ids.length], 'int32'), {})));
      const values = Array.from(await probs.data());
      probs.dispose();
      const labels = ['female', 'male'];
      for (const c of classes) assert.ok(Math.abs(values[labels.indexOf(c.label)] - c.probability) < 1e-5, `${c.label}: node ${values[labels.indexOf(c.label)]}, page ${c.probability}`);
    } finally {
      model.dispose();
    }
    await page.close();
  });

  test('best available (the page\'s default) passes over SwiftShader\'s webgpu and webgl, trains on wasm and shows steps within seconds', async () => {
    // This machine has no GPU: chromium's webgpu and webgl both run on SwiftShader, ~50x slower than wasm here.
    const page = await openPage();
    const started = Date.now();
    await startInPage(page, ''); // "best available"
    await page.waitForFunction(() => { const r = (window as any).studio.runs.at(-1); return r !== undefined && (r.steps.length >= 1 || r.status === 'failed'); }, null, { timeout: 60_000 });
    const seconds = (Date.now() - started) / 1000;
    const run = await readRun(page);
    assert.equal(run.info?.engine, 'wasm', run.message);
    assert.match(run.info!.engineLine, /^wasm; best available; passed over webgpu: the WebGPU adapter is google swiftshader, software adapter \(the GPU emulated on the CPU\); webgl: a software renderer \(ANGLE \(Google, Vulkan [^)]*\(SwiftShader/);
    assert.match((await page.textContent('#engine-badge'))!, /^engine: wasm; best available; passed over webgpu/);
    assert.ok(run.losses.length >= 1 && seconds < 60, `first step after ${seconds.toFixed(1)} s`);
    assert.ok(Math.abs(run.losses[0] - nodeLosses[0]) <= 1e-5 * Math.abs(nodeLosses[0]), `step 1: page ${run.losses[0]}, node ${nodeLosses[0]}`);
    await page.close();
  });

  test('webgpu (SwiftShader): the same 20 steps train to the same losses and gradient norms within float tolerance; Stop holds the run, Continue finishes it', async () => {
    // SwiftShader emulates the GPU on the CPU (~10 s a step here): Stop after two steps, check, Continue to the end.
    const page = await openPage();
    await startInPage(page, 'webgpu');
    const steps = () => page.evaluate(() => (window as any).studio.runs.at(-1).steps.length as number);
    await page.waitForFunction(() => { const r = (window as any).studio.runs.at(-1); return r !== undefined && (r.steps.length >= 2 || r.status === 'failed'); }, null, { timeout: 240_000 });
    const early = await readRun(page);
    assert.equal(early.status, 'training', early.message);
    await page.click('#pause');
    await page.waitForFunction(() => { const r = (window as any).studio.runs.at(-1); return r.status === 'paused' || r.status === 'failed'; }, null, { timeout: 120_000 });
    const stoppedAt = await steps();
    await page.waitForTimeout(1000);
    assert.equal(await steps(), stoppedAt, 'no step runs while stopped');
    assert.equal(await page.textContent('#pause'), 'Continue');
    if (FULL_WEBGPU) {
      await page.click('#pause');
      await page.waitForFunction(() => ['completed', 'failed', 'diverged'].includes((window as any).studio.runs.at(-1).status), null, { timeout: 900_000, polling: 1000 });
    }
    const run = await readRun(page);
    assert.equal(run.info?.engine, 'webgpu');
    if (FULL_WEBGPU) {
      assert.equal(run.status, 'completed', run.message);
      assert.equal(run.losses.length, RUN.steps);
      assert.deepEqual(run.evals.map((e) => e.step), [10, 20]);
    }
    run.losses.forEach((l, i) => assert.ok(Math.abs(l - nodeLosses[i]) <= 2e-3 * Math.max(1, Math.abs(nodeLosses[i])), `step ${i + 1}: webgpu loss ${l}, node ${nodeLosses[i]}`));
    run.gradNorms.forEach((g, i) => assert.ok(Math.abs(g - nodeGradNorms[i]) <= 1e-2 * nodeGradNorms[i], `step ${i + 1}: webgpu gradient norm ${g}, node ${nodeGradNorms[i]}`));
    await page.close();
  });

  test('a malformed dropped model file and a mislabelled data file show errors naming them', async () => {
    const page = await openPage();
    const config = await readFile(join(BASE, 'config.json'));
    const tokenizer = await readFile(join(BASE, 'tokenizer.json'));
    const tokenizerConfig = await readFile(join(BASE, 'tokenizer_config.json'));
    const broken = Buffer.concat([Buffer.from([200, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a": not json')]);
    await page.setInputFiles('#model-files', [
      { name: 'config.json', mimeType: 'application/json', buffer: config },
      { name: 'tokenizer.json', mimeType: 'application/json', buffer: tokenizer },
      { name: 'tokenizer_config.json', mimeType: 'application/json', buffer: tokenizerConfig },
      { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: broken },
    ]);
    await page.selectOption('#backend', 'wasm');
    await page.fill('#max-steps', '2');
    for (const box of await page.$$('#methods input')) await ((await box.getAttribute('value')) === 'lora' ? box.check() : box.uncheck());
    await page.click('#train');
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    const modelError = (await page.textContent('#error'))!;
    assert.match(modelError, /^dropped folder\/model\.safetensors: /);

    await page.check('input[name="model-source"][value="shipped"]');
    await page.setInputFiles('#data-files', [{ name: 'train.jsonl', mimeType: 'application/json', buffer: Buffer.from('{"text": "a", "label": "x"}\n{"text": "b"}\n{"text": "c", "label": "y"}\n') }]);
    await page.click('#train');
    await page.waitForFunction(() => /train\.jsonl/.test(document.getElementById('error')!.textContent ?? ''), null, { timeout: 60_000 });
    assert.match((await page.textContent('#error'))!, /train\.jsonl.*line 2|line 2.*train\.jsonl/s);

    await page.setInputFiles('#model-files', [{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') }]);
    await page.waitForFunction(() => /missing/.test(document.getElementById('error')!.textContent ?? ''));
    assert.match((await page.textContent('#error'))!, /missing config\.json, model\.safetensors \(or shards\), tokenizer\.json/);
    await page.close();
  });
});
