// lorapro compare: methods × seeds on the same data, one overlaid report and a results table.
import { writeTextAtomic } from '../io/atomic.js';
import { join } from 'node:path';
import { testMetrics } from '../bench/paper/test-metrics.js';
import { startEngine } from './engine.js';
import { checkVariant } from '../train/methods.js';
import { createProgress } from '../train/progress.js';
import { meanStd, RESULTS_FILE } from '../report/compare.js';
import { compareMethods, type CompareOutcome } from '../run/compare.js';
import { builtinDataSpec } from '../train/run-data.js';
import { UsageError } from '../train/errors.js';
import { listOf, type CliIO, type Command } from './args.js';
import { checkOutFolder } from './file-errors.js';
import { INTERRUPTED_EXIT, resumeCommand, whileInterruptible } from './interrupt.js';
import { ALLOW_DATA_CHANGE_OPTION, resolveTaskOption, RUN_OPTIONS } from './train.js';

function seedsOf(value: unknown): number[] {
  return listOf(value ?? '0', '--seeds').map((s) => {
    if (!/^\d+$/.test(s)) throw new UsageError(`--seeds must be comma-separated non-negative integers, got "${s}"`);
    return Number(s);
  });
}

export const compareCommand: Command = {
  name: 'compare',
  brief: 'train several methods x seeds and compare them in one report',
  summary: 'Trains several methods with several seeds on the same data and writes one report overlaying them (report.html) and a table of mean ± std metrics, time and peak memory per method (results.md). Each method\'s learning rate is --lr, else a short search per method and seed around the model folder\'s recommendation (see lorapro train --help). With --task builtin:NAME the runs train on the task\'s train split, select on its validation split, and their best weights are also scored on its test split (test-results.md).',
  usage: 'lorapro compare --model DIR (--train FILE --eval FILE --task TASK | --task builtin:NAME) --methods full,lora,lora-pro,lora-pro@pissa [--seeds 0,1,2] --out DIR [options]',
  configFile: true,
  options: [
    ...RUN_OPTIONS.slice(0, 4),
    { key: 'methods', type: 'string', arg: 'LIST', required: true, help: 'comma-separated methods, each NAME or NAME@INIT (an init from --init), e.g. full,lora,lora-pro,lora-pro@pissa,lora@lora-ga' },
    { key: 'seeds', type: 'string', arg: 'LIST', default: '0', help: 'comma-separated seeds; each method runs once per seed' },
    ...RUN_OPTIONS.slice(4).filter((o) => o.key !== 'seed'),
    { key: 'out', type: 'string', arg: 'DIR', required: true, help: 'output folder (one sub-folder per method and seed)' },
    { key: 'resume', type: 'boolean', help: 'continue unfinished runs in --out from their checkpoints' },
    ALLOW_DATA_CHANGE_OPTION,
  ],
  examples: ['lorapro compare --model models/gpt2 --train data/sst2.jsonl --eval data/sst2-dev.jsonl --task classification --methods full,lora,lora-pro --seeds 0,1,2 --epochs 3 --out runs/cmp'],
  async run(values, io) {
    const { methods, seeds, out, resume, backend, matmulPrecision, noDiagnostics, noDivergenceGuard, ...base } = resolveTaskOption(values);
    const methodList = listOf(methods, '--methods').map(checkVariant);
    checkOutFolder(out as string);
    await startEngine(backend, io, matmulPrecision);
    const options = { ...base, ...(noDiagnostics ? { diagnostics: false } : {}), ...(noDivergenceGuard ? { divergenceGuard: false } : {}) };
    const outcome = await whileInterruptible(io, (signal) =>
      compareMethods({ base: options, methods: methodList, seeds: seedsOf(seeds), out: out as string, resume: resume as boolean | undefined }, { progress: () => createProgress(process.stderr), log: (l) => io.err(l), signal }),
    );
    if (outcome.interrupted) {
      io.err(`${outcome.interrupted}\nto continue: ${resumeCommand('compare')}`);
      return INTERRUPTED_EXIT;
    }
    io.out(`compared ${methodList.map((v) => v.label).join(', ')} over ${outcome.runs.length} runs: ${out}/report.html, ${out}/${RESULTS_FILE}`);
    if (typeof base.train === 'string' && builtinDataSpec(base.train)) await reportTestSplit(outcome, out as string, io);
    return outcome.results.every((r) => r.result.status === 'completed') ? 0 : 1;
  },
};

export const TEST_RESULTS_FILE = 'test-results.md';

/**
 * A built-in task has a test split the runs never saw: each finished run's best weights are
 * evaluated on it once, and the means ± std per method are printed and written to test-results.md.
 */
async function reportTestSplit(outcome: CompareOutcome, out: string, io: CliIO): Promise<void> {
  const perMethod = new Map<string, { accuracy: number[]; macroF1: number[]; mcc: number[]; stopped: string[] }>();
  for (const { label, config, result } of outcome.results) {
    const row = perMethod.get(label) ?? { accuracy: [], macroF1: [], mcc: [], stopped: [] };
    perMethod.set(label, row);
    if (result.status !== 'completed') {
      row.stopped.push(`seed ${config.seed} ${result.status}`); // a diverged run keeps its row: the table says it stopped
      continue;
    }
    const m = await testMetrics(config.out);
    row.accuracy.push(m.accuracy ?? Number.NaN);
    row.macroF1.push(m.macroF1 ?? Number.NaN);
    row.mcc.push(m.mcc ?? Number.NaN);
  }
  const cell = (xs: number[]) => {
    if (xs.length === 0) return '-';
    const { mean, std } = meanStd(xs);
    return `${mean.toFixed(4)} ± ${std.toFixed(4)}`;
  };
  const lines = ['| method | test accuracy | test macro-F1 | test MCC | seeds |', '| --- | ---: | ---: | ---: | ---: |'];
  for (const [method, r] of perMethod) {
    const seeds = `${r.accuracy.length}${r.stopped.length > 0 ? ` (${r.stopped.join(', ')})` : ''}`;
    lines.push(`| ${method} | ${cell(r.accuracy)} | ${cell(r.macroF1)} | ${cell(r.mcc)} | ${seeds} |`);
  }
  const text = `# Test-split metrics\n\nEach run's best checkpoint on validation (else its final weights), evaluated once on the built-in task's test split; mean ± sample std over seeds.\n\n${lines.join('\n')}\n`;
  await writeTextAtomic(join(out, TEST_RESULTS_FILE), text);
  io.out(lines.join('\n'));
  io.out(`test-split metrics: ${join(out, TEST_RESULTS_FILE)}`);
}
