// A child process of `bench paper --jobs N`: runs one (task, method, lr, seed) fine-tuning run and
// sends its MethodRun back, one process per run (see pool.ts for the cores each gets).
import { useBackend } from '../../engine/backend.js';
import { runMethod, type MethodRunOptions } from './runs.js';

export interface WorkerRequest {
  readonly options: MethodRunOptions;
  readonly backend: string;
}

// The parent gone (killed, or exited after another run failed): stop rather than compute for nobody.
process.once('disconnect', () => process.exit(2));

process.once('message', async (request: WorkerRequest) => {
  const reply = (message: unknown, code: number) => process.send?.(message, () => process.exit(code));
  try {
    await useBackend(request.backend);
    reply({ ok: true, run: await runMethod(request.options) }, 0);
  } catch (e) {
    reply({ ok: false, message: e instanceof Error ? e.message : String(e) }, 1);
  }
});
