// lorapro bench paper: the LoRA-Pro paper's comparison on the built-in tasks (src/bench/paper/paper.ts).
import { engineName } from '../engine/backend.js';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { chooseBase, shown } from '../bench/paper/base.js';
import { paperPlan, plannedRuns, runPaper } from '../bench/paper/paper.js';
import { printableTable, writePaperResults } from '../bench/paper/report.js';
import { startEngine } from './engine.js';
import { tf } from '../engine/tf.js';
import { builtinTaskNames } from '../tasks/builtin.js';
import { checkVariant } from '../train/methods.js';
import { machineLine } from '../run/pretrain.js';
import { createProgress } from '../train/progress.js';
import { UsageError } from '../train/errors.js';
import { BACKEND_OPTION, flagOf, listOf, type Command } from './args.js';

function seedList(value: unknown): number[] | undefined {
  if (value === undefined) return undefined;
  return listOf(value, '--seeds').map((s) => {
    if (!/^\d+$/.test(s)) throw new UsageError(`--seeds must be comma-separated non-negative integers, got "${s}"`);
    return Number(s);
  });
}

function taskList(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const names = builtinTaskNames();
  return listOf(value, '--tasks').map((t) => {
    const name = t.replace(/^builtin:/, '');
    if (!names.includes(name)) throw new UsageError(`--tasks: unknown built-in task "${t}"; the built-in tasks are: ${names.join(', ')}`);
    return name;
  });
}

/** The command as typed, flags in the order given (for the results file). */
function commandText(sub: string, values: Record<string, unknown>): string {
  const flags = Object.entries(values).map(([k, v]) => (v === true ? `--${flagOf(k)}` : `--${flagOf(k)} ${v}`));
  return ['npx lorapro bench', sub, ...flags].join(' ');
}

export const benchCommand: Command = {
  name: 'bench',
  brief: 'benchmarks; "bench paper" reruns the LoRA-Pro paper\'s comparison on the built-in tasks',
  summary:
    'lorapro bench paper: full fine-tuning, LoRA, rsLoRA, LoRA+, LoRA-Pro and LoRA-Pro (efficient) at rank 8, alpha 16 on the five built-in tasks from the base model; per method and task a learning rate is chosen from a small grid on validation, then 3 seeds run; prints the test-accuracy table and writes docs/results.md with costs, the gradient diagnostic and plots. Runs go --jobs at a time in child processes, each with cores / jobs native-engine threads. --quick: 2 tasks, 1 seed, 100 steps.',
  usage: 'lorapro bench paper [--quick] [--tasks a,b] [--seeds 0,1,2] [--jobs N] [--out DIR] [--results FILE]',
  options: [
    { key: 'quick', type: 'boolean', help: 'two tasks, one seed, 100 steps (≤ 15 min on 2 cores)' },
    { key: 'tasks', type: 'string', arg: 'LIST', default: 'all five (quick: name-gender,syllables)', help: 'built-in tasks to run' },
    { key: 'seeds', type: 'string', arg: 'LIST', default: '0,1,2 (quick: 0)', help: 'seeds; the grid runs on the first' },
    { key: 'methods', type: 'string', arg: 'LIST', default: 'full,lora,rslora,lora-plus,lora-pro,lora-pro-efficient', help: 'methods to compare, each NAME or NAME@INIT (e.g. lora-pro@pissa, lora@lora-ga; inits as train --init)' },
    { key: 'steps', type: 'int', default: '150 (quick: 100)', help: 'optimiser steps per run' },
    { key: 'jobs', type: 'int', default: 'the number of cores', help: 'runs at a time, each in its own process; 1 runs them here with a progress bar' },
    { key: 'model', type: 'string', arg: 'DIR', default: 'models/lorapro-base', help: 'base model folder' },
    { key: 'out', type: 'string', arg: 'DIR', default: 'runs/bench-paper', help: 'folder for the runs' },
    { key: 'results', type: 'string', arg: 'FILE', default: 'docs/results.md', help: 'the results file to write (plots go beside it)' },
    { key: 'resume', type: 'boolean', help: 'continue the runs in --out from their checkpoints' },
    BACKEND_OPTION,
  ],
  examples: ['lorapro bench paper --quick', 'lorapro bench paper --tasks spam,name-gender --seeds 0,1 --results runs/results.md'],
  subcommands: ['paper'],
  async run(values, io) {
    const { subcommand: _sub, ...options } = values;
    return benchPaper(options, io);
  },
};

/** `bench paper` with its options (the sub-command is the first argument). */
export async function benchPaper(values: Record<string, unknown>, io: { out: (l: string) => void; err: (l: string) => void }): Promise<number> {
  const started = performance.now();
  const jobs = (values.jobs as number | undefined) ?? availableParallelism();
  if (jobs < 1) throw new UsageError(`--jobs must be at least 1, got ${jobs}`);
  await startEngine(values.backend, io);
  const log = (line: string) => io.err(line);
  const base = await chooseBase({ model: values.model as string | undefined }, { log });
  const plan = paperPlan({
    model: base.dir,
    out: (values.out as string | undefined) ?? join('runs', 'bench-paper'),
    quick: values.quick as boolean | undefined,
    tasks: taskList(values.tasks),
    seeds: seedList(values.seeds),
    methods: values.methods === undefined ? undefined : listOf(values.methods, '--methods').map((m) => checkVariant(m).label),
    steps: values.steps as number | undefined,
  });
  log(`bench paper: ${plannedRuns(plan)} runs, ${jobs} at a time (${plan.tasks.join(', ')} × ${plan.methods.join(', ')}; seeds ${plan.seeds.join(', ')}; ${plan.steps} steps) into ${plan.out}`);
  const result = await runPaper(plan, { progress: () => createProgress(process.stderr), log, resume: values.resume as boolean | undefined, jobs, backend: engineName() });
  const resultsPath = (values.results as string | undefined) ?? join('docs', 'results.md');
  await writePaperResults(result, resultsPath, { command: commandText('paper', values), machine: machineLine(), baseNote: base.note, wallS: (performance.now() - started) / 1000, date: new Date(), jobs });
  io.out(printableTable(result));
  io.out(`results: ${shown(resultsPath)} (runs in ${plan.out})`);
  return result.runs.every((r) => r.result.status === 'completed') ? 0 : 1;
}
