// Running benchmark runs side by side: a concurrency limit, and one run in a child process
// (worker.js). The wasm engine computes on one thread, so on a machine with N cores N runs at a
// time take about 1/N of the wall time; under the native engine each child gets cores / jobs threads.
// Each run also gets its own process and memory.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import type { MethodRun, MethodRunOptions } from './runs.js';
import type { WorkerRequest } from './worker.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
const STDERR_TAIL = 4000;

/** Child processes still running. */
const live = new Set<ChildProcess>();

/** Kills every child still running (after a failed run, so nothing keeps computing). */
export function stopChildren(): void {
  for (const child of live) child.kill();
}

/** How many children are running now. */
export const liveChildren = (): number => live.size;

/** Wraps async functions so that at most `n` run at once; the rest wait in call order. */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`limiter: n must be a positive integer, got ${n}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (active < n) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve)); // the finishing run hands over its slot
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/**
 * runMethod in a fresh Node process on `backend`; rejects with the child's error or its stderr. With
 * `jobs` children at a time, each gets an equal share of the cores for the native engine's threads
 * (unless LORAPRO_THREADS says otherwise), so they do not fight over them.
 */
export function runMethodInChild(options: MethodRunOptions, backend: string, jobs = 1): Promise<MethodRun> {
  return new Promise((resolve, reject) => {
    const threads = process.env.LORAPRO_THREADS ?? String(Math.max(1, Math.floor(availableParallelism() / jobs)));
    // 'advanced' (structured clone) keeps NaN metrics of diverged runs, which JSON would turn into null
    const child = fork(WORKER, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, LORAPRO_THREADS: threads } });
    live.add(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-STDERR_TAIL)));
    let reply: { ok: true; run: MethodRun } | { ok: false; message: string } | undefined;
    child.on('message', (m) => (reply = m as typeof reply));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      live.delete(child);
      const what = `${options.task} ${options.method} lr ${options.lr} seed ${options.seed}`;
      if (reply?.ok) resolve(reply.run);
      else if (reply) reject(new Error(`${what}: ${reply.message}`));
      else reject(new Error(`${what}: worker process exited (${signal ?? `code ${code}`}) without a result${stderr ? `:\n${stderr.trim()}` : ''}`));
    });
    child.send({ options, backend } satisfies WorkerRequest);
  });
}
