// Test-split metrics of finished runs on a built-in task: the run's best checkpoint (else its final
// weights) reloaded from disk and evaluated once on the task's held-out test split.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { evaluate, type EvalMetrics } from '../../train/evaluate.js';
import { usesAdapters } from '../../train/methods.js';
import { builtinDataSpec, builtinSplit } from '../../train/run-data.js';
import { readRunFile } from '../../train/run-file.js';
import { loadTrained, padIdOf } from '../../train/run-model.js';

/** The folder holding the weights to test: best/ when the run kept one, else the run folder. */
export function testedDir(runDir: string): string {
  return existsSync(join(runDir, 'best', 'run.json')) ? join(runDir, 'best') : runDir;
}

/**
 * Metrics of the run in `runDir` (trained on `builtin:NAME`) on that task's test split.
 *
 * @example
 *   const m = await testMetrics('runs/cmp/lora/seed-0'); // { loss, accuracy, macroF1, mcc, examples: 500 }
 */
export async function testMetrics(runDir: string): Promise<EvalMetrics> {
  const dir = testedDir(runDir);
  const run = await readRunFile(dir);
  if (!run) throw new Error(`${dir}: no run.json; was the run finished?`);
  const spec = builtinDataSpec(run.config.train);
  if (!spec) throw new Error(`${dir}: trained on ${run.config.train}, not a built-in task; it has no test split`);
  const adapter = usesAdapters(run.config.method);
  const trained = await loadTrained({ model: adapter ? run.config.model : dir, adapter: adapter ? dir : undefined, log: () => {} });
  try {
    const { examples } = builtinSplit(spec, 'test', trained.tokenizer, run.maxLength);
    return await evaluate(trained.model, examples, Math.max(16, run.config.batchSize), padIdOf(trained.tokenizer, run.config.model));
  } finally {
    trained.model.dispose();
  }
}
