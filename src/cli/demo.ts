// lorapro demo: full fine-tuning, LoRA and LoRA-Pro on one built-in task from the base model, one
// table, a few minutes.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chooseBase, shown } from '../bench/paper/base.js';
import { runMethod, type MethodRun } from '../bench/paper/runs.js';
import { costCells, DIAGNOSTIC_NOTE, markdownTable, pctCell, textTable } from '../bench/paper/table.js';
import { startEngine } from './engine.js';
import { checkOutFolder } from './file-errors.js';
import type { MethodName } from '../train/methods.js';
import { machineLine } from '../run/pretrain.js';
import { createProgress } from '../train/progress.js';
import { readComparedRun, writeCompareReport } from '../report/compare.js';
import { builtinDataSpec } from '../train/run-data.js';
import { UsageError } from '../train/errors.js';
import { BACKEND_OPTION, type Command } from './args.js';

/**
 * Methods and AdamW learning rates of the demo: the ones `lorapro bench paper` chose on name-gender's
 * validation split from the shipped base (docs/results.md, learning-rate grid). LoRA-Pro's full mode
 * steps W like full fine-tuning's Adam, so it takes a rate near full's, lower than LoRA's.
 */
const DEMO_METHODS: readonly { method: MethodName; lr: number }[] = [
  { method: 'full', lr: 1e-3 },
  { method: 'lora', lr: 3e-3 },
  { method: 'lora-pro', lr: 1e-3 },
];
const MARKER = 'demo.json';

/** --out must be new, empty, or a previous demo's (whose runs are replaced). */
async function prepareOut(out: string): Promise<void> {
  if (existsSync(out) && readdirSync(out).length > 0) {
    if (!existsSync(join(out, MARKER))) throw new UsageError(`--out ${out} already holds files that are not a demo's; choose another folder`);
    for (const name of readdirSync(out)) if (name !== 'base' && name !== 'base-work') await rm(join(out, name), { recursive: true, force: true });
  }
  await mkdir(out, { recursive: true });
  await writeFile(join(out, MARKER), `${JSON.stringify({ startedAt: new Date().toISOString() })}\n`);
}

function tableRows(runs: readonly MethodRun[]): { head: string[]; rows: string[][] } {
  const head = ['method', 'lr', 'test acc %', 'test macro-F1 %', 'best val acc %', 'train time', 'tokens/s', 'peak tensors', 'cos(g̃,g) LoRA → Pro'];
  const rows = runs.map((r) => {
    const c = costCells([r]);
    return [r.method, String(r.lr), pctCell([r.test?.accuracy]), pctCell([r.test?.macroF1]), pctCell([r.validation]), c.time, c.tokensPerSec, c.peak, c.cosine];
  });
  return { head, rows };
}

export const demoCommand: Command = {
  name: 'demo',
  brief: 'a few-minute comparison: full fine-tuning, LoRA and LoRA-Pro on one built-in task',
  summary: 'Fine-tunes the base model (models/lorapro-base) on one built-in classification task with full fine-tuning, LoRA and LoRA-Pro (rank 8, alpha 16, all linear layers), prints a table of test accuracy, time and memory per method, and writes demo.md, report.html and the runs into --out. Without the shipped base it says so and pretrains a small stand-in first (about 90 s).',
  usage: 'lorapro demo [--model DIR] [--task builtin:NAME] [--out DIR]',
  options: [
    { key: 'model', type: 'string', arg: 'DIR', default: 'models/lorapro-base', help: 'base model folder' },
    { key: 'task', type: 'string', arg: 'TASK', default: 'builtin:name-gender', help: 'a built-in task, builtin:NAME (see docs/TASKS.md)' },
    { key: 'out', type: 'string', arg: 'DIR', default: 'runs/demo', help: 'output folder (a previous demo\'s is replaced)' },
    { key: 'steps', type: 'int', default: '150', help: 'optimiser steps per method' },
    { key: 'maxLength', type: 'int', default: '16', help: 'bytes per example' },
    { key: 'maxTrain', type: 'int', default: '2000', help: 'training examples used' },
    { key: 'seed', type: 'int', default: '0', help: 'seed of the head, adapters and data order' },
    BACKEND_OPTION,
  ],
  examples: ['lorapro demo', 'lorapro demo --task builtin:spam --max-length 64 --out runs/demo-spam'],
  async run(values, io) {
    const started = performance.now();
    const taskSpec = (values.task as string | undefined) ?? 'builtin:name-gender';
    const spec = builtinDataSpec(taskSpec);
    if (!spec) throw new UsageError(`--task must be a built-in task, builtin:NAME, got "${taskSpec}"`);
    const out = (values.out as string | undefined) ?? join('runs', 'demo');
    const steps = (values.steps as number | undefined) ?? 150;
    const seed = (values.seed as number | undefined) ?? 0;
    checkOutFolder(out);
    await startEngine(values.backend, io);
    await prepareOut(out);
    const log = (line: string) => io.err(line);
    const base = await chooseBase({ model: values.model as string | undefined, fallbackDir: join(out, 'base'), fallbackMinutes: 1.5 }, { progress: createProgress(process.stderr), log });
    const train = `builtin:${spec.name}?max-train=${(values.maxTrain as number | undefined) ?? spec.maxTrain ?? 2000}`;
    const common = { model: base.dir, task: 'classification', train, maxLength: (values.maxLength as number | undefined) ?? 16, maxSteps: steps, batchSize: 16, evalEvery: Math.max(1, Math.ceil(steps / 5)), warmupSteps: Math.floor(steps / 10), rank: 8, alpha: 16 };
    const runs: MethodRun[] = [];
    for (const { method, lr } of DEMO_METHODS) {
      log(`== ${method} (lr ${lr}) on ${spec.name}, ${steps} steps`);
      runs.push(await runMethod({ base: common, task: spec.name, method, lr, seed, out }, { progress: createProgress(process.stderr), log }));
    }
    await writeCompareReport(out, await Promise.all(runs.map((r) => readComparedRun(r.method, r.seed, r.dir))));
    const { head, rows } = tableRows(runs);
    const totalS = (performance.now() - started) / 1000;
    io.out(`\n${spec.name}: ${base.note}; ${steps} steps per method, batch 16, rank 8, alpha 16, seed ${seed}; test split of 500 examples\n`);
    io.out(textTable(head, rows));
    const command = `npx lorapro demo${values.model ? ` --model ${values.model}` : ''} --task builtin:${spec.name} --out ${out} --steps ${steps}`;
    const report = `# lorapro demo: ${spec.name}\n\n${base.standIn ? `**Note:** ${base.note}.\n\n` : ''}Full fine-tuning, LoRA and LoRA-Pro from ${base.standIn ? 'the stand-in base' : shown(base.dir)} on the built-in task \`${spec.name}\` (docs/TASKS.md): ${steps} optimiser steps each, batch 16, max length ${common.maxLength}, LoRA rank 8 / alpha 16 on every linear layer, one seed (${seed}); the best checkpoint on validation is scored on the 500-example test split. One seed and one learning rate per method: this is a demonstration, not the benchmark (\`lorapro bench paper\`).\n\n${markdownTable(head, rows)}\n\n${DIAGNOSTIC_NOTE}\n\nCommand: \`${command}\`  \nDate: ${new Date().toISOString()}  \nMachine: ${machineLine()}  \nTotal wall time: ${totalS.toFixed(0)} s. Curves: report.html.\n`;
    await writeFile(join(out, 'demo.md'), report);
    io.out(`\n${DIAGNOSTIC_NOTE}\nreport: ${join(out, 'demo.md')} and ${join(out, 'report.html')} (total ${totalS.toFixed(0)} s)`);
    return runs.every((r) => r.result.status === 'completed') ? 0 : 1;
  },
};
