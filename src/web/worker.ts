// The playground's training worker: one run per worker, so the page stays responsive and a finished
// run keeps its model for predictions and its adapter for download. Steps are posted as they finish;
// evaluations (with the per-layer diagnostic) at the CLI's evaluation steps.
import { describeEngineChoice, FileSet, parseModelConfig, recommendationsFromJson, recommendedRate, RECOMMENDATIONS_FILE, TrainSession, useBrowserBackend, type MethodName } from '../browser.js';
import type { Files, FromWorker, StartRun, ToWorker } from './protocol.js';

const scope = self as unknown as { postMessage(m: FromWorker, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };
const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

// Whatever escapes a handler still reaches the page as a message (the error event carries no text).
self.addEventListener('unhandledrejection', (e) => post({ type: 'log', line: `worker: unhandled ${String((e as PromiseRejectionEvent).reason?.stack ?? (e as PromiseRejectionEvent).reason)}` }));

let session: TrainSession | undefined;
let paused = false;
let wake: (() => void) | undefined;

scope.onmessage = (e) => {
  const m = e.data;
  const fail = (err: unknown) => post({ type: 'error', message: (err as Error).message ?? String(err), file: (err as { file?: string }).file });
  switch (m.type) {
    case 'start':
      start(m).catch(fail);
      break;
    case 'pause':
      paused = true;
      break;
    case 'resume':
      paused = false;
      wake?.();
      break;
    case 'predict':
      predict(m.text).catch(fail);
      break;
    case 'export':
      exportAdapter().catch(fail);
      break;
  }
};

async function start(m: StartRun): Promise<void> {
  if (session) throw new Error('this worker already runs a session; start a new worker per run');
  const engine = await useBrowserBackend(m.backend);
  const model = new FileSet(m.model.name, Object.entries(m.model.files));
  const options = m.options.lr === undefined ? { ...m.options, lr: recommendedRateOf(model, String(m.options.method) as MethodName) } : m.options;
  session = await TrainSession.create({ model, data: m.data, options, log: (line) => post({ type: 'log', line }) });
  const params = [...session.model.namedParameters().values()];
  post({
    type: 'ready',
    info: {
      engine,
      engineLine: describeEngineChoice(),
      architecture: session.model.architecture,
      task: session.config.task,
      totalSteps: session.plan.totalSteps,
      trainExamples: session.data.train.length,
      evalExamples: session.data.eval.length,
      labels: session.data.labels,
      lr: session.config.lr,
      trainableParams: [...session.setup.params.values()].reduce((n, v) => n + v.size, 0),
      totalParams: params.reduce((n, v) => n + v.size, 0),
    },
  });
  await loop(session);
}

/** The rate `lorapro train --lr recommended` would use: the folder's lorapro.json, else the width rule. */
function recommendedRateOf(model: FileSet, method: MethodName): number {
  const json = model.json(RECOMMENDATIONS_FILE);
  const recommendations = json === undefined ? undefined : recommendationsFromJson(json, model.path(RECOMMENDATIONS_FILE));
  return recommendedRate(method, parseModelConfig(model.json('config.json'), model.path('config.json')), recommendations).lr;
}

async function loop(s: TrainSession): Promise<void> {
  while (!s.done) {
    if (paused) {
      post({ type: 'paused', step: s.step });
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    const step = await s.next();
    post({ type: 'step', step });
    if (step.diverged) {
      post({ type: 'done', status: 'diverged', message: `step ${step.step}: the training loss is not finite (loss ${step.loss}, gradient norm ${step.gradNorm}); try a smaller learning rate (it was ${step.lr})` });
      return;
    }
    if (s.evaluatesAt(step.step)) post({ type: 'eval', eval: await s.evaluate() });
    await new Promise((r) => setTimeout(r, 0)); // let pause / predict messages in between steps
  }
  post({ type: 'done', status: 'completed' });
}

async function predict(text: string): Promise<void> {
  const s = requireSession();
  if (s.config.task === 'classification') post({ type: 'prediction', text, classes: await s.classify(text) });
  else post({ type: 'prediction', text, completion: await s.complete(text) });
}

async function exportAdapter(): Promise<void> {
  const files: Files = {};
  for (const [name, bytes] of await requireSession().adapterFiles()) files[name] = bytes.slice().buffer;
  post({ type: 'adapter', files }, Object.values(files));
}

function requireSession(): TrainSession {
  if (!session) throw new Error('no run has started in this worker');
  return session;
}
