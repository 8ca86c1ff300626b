// lorapro compare: methods × seeds on the same data, one overlaid report and a results table.
import { useBackend } from '../engine/backend.js';
import { checkMethod } from '../train/methods.js';
import { createProgress } from '../train/progress.js';
import { RESULTS_FILE } from '../train/report-compare.js';
import { compareMethods } from '../train/run-compare.js';
import { UsageError } from '../train/run-errors.js';
import { listOf, type Command } from './args.js';
import { RUN_OPTIONS } from './train.js';

function seedsOf(value: unknown): number[] {
  return listOf(value ?? '0', '--seeds').map((s) => {
    if (!/^\d+$/.test(s)) throw new UsageError(`--seeds must be comma-separated non-negative integers, got "${s}"`);
    return Number(s);
  });
}

export const compareCommand: Command = {
  name: 'compare',
  brief: 'train several methods x seeds and compare them in one report',
  summary: 'Trains several methods with several seeds on the same data and writes one report overlaying them (report.html) and a table of mean ± std metrics, time and peak memory per method (results.md).',
  usage: 'lorapro compare --model DIR --train FILE --eval FILE --task TASK --methods full,lora,lora-pro [--seeds 0,1,2] --out DIR [options]',
  configFile: true,
  options: [
    ...RUN_OPTIONS.slice(0, 4),
    { key: 'methods', type: 'string', arg: 'LIST', required: true, help: 'comma-separated methods, e.g. full,lora,lora-pro' },
    { key: 'seeds', type: 'string', arg: 'LIST', default: '0', help: 'comma-separated seeds; each method runs once per seed' },
    ...RUN_OPTIONS.slice(4).filter((o) => o.key !== 'seed'),
    { key: 'out', type: 'string', arg: 'DIR', required: true, help: 'output folder (one sub-folder per method and seed)' },
    { key: 'resume', type: 'boolean', help: 'continue unfinished runs in --out from their checkpoints' },
  ],
  examples: ['lorapro compare --model models/gpt2 --train data/sst2.jsonl --eval data/sst2-dev.jsonl --task classification --methods full,lora,lora-pro --seeds 0,1,2 --epochs 3 --out runs/cmp'],
  async run(values, io) {
    const { methods, seeds, out, resume, backend, noDiagnostics, ...base } = values;
    const methodList = listOf(methods, '--methods').map(checkMethod);
    await useBackend(backend as string | undefined);
    const outcome = await compareMethods(
      { base: { ...base, ...(noDiagnostics ? { diagnostics: false } : {}) }, methods: methodList, seeds: seedsOf(seeds), out: out as string, resume: resume as boolean | undefined },
      { progress: () => createProgress(process.stderr), log: (l) => io.err(l) },
    );
    io.out(`compared ${methodList.join(', ')} over ${outcome.runs.length} runs: ${out}/report.html, ${out}/${RESULTS_FILE}`);
    return outcome.results.every((r) => r.result.status === 'completed') ? 0 : 1;
  },
};
