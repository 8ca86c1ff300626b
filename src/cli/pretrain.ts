// lorapro pretrain: a small base model from scratch on Moby-Dick (see src/run/pretrain.ts).
import { startEngine } from './engine.js';
import { checkOutFolder } from './file-errors.js';
import { createProgress } from '../train/progress.js';
import { defaultWork, MODEL_CARD_FILE, pretrain } from '../run/pretrain.js';
import { BACKEND_OPTION, type Command } from './args.js';

/** The command line that reproduces a run, for the model card (flags in a fixed order). */
function commandLine(values: Record<string, unknown>, steps: number): string {
  const parts = ['npx lorapro pretrain', `--config ${values.config}`, `--out ${values.out}`, `--max-steps ${steps}`, `--seed ${values.seed ?? 0}`];
  for (const k of ['context', 'batchSize', 'lr'] as const) if (values[k] !== undefined) parts.push(`--${k === 'batchSize' ? 'batch-size' : k} ${values[k]}`);
  return parts.join(' ');
}

export const pretrainCommand: Command = {
  name: 'pretrain',
  brief: 'pretrain a small base model from scratch on Moby-Dick (byte-level)',
  summary: `Creates a model from a config.json (random, seeded), writes the byte-level tokenizer, and trains it as a causal LM (full fine-tuning) on Moby-Dick from npm. Checkpoints, metrics.jsonl and report.html go to --work (default runs/pretrain-<name>); the finished model and ${MODEL_CARD_FILE} go to --out. Kill it at any point and run it again with --resume.`,
  usage: 'lorapro pretrain --config models/base-config.json --out DIR [--max-steps N | --minutes M] [--seed S] [--resume]',
  options: [
    { key: 'config', type: 'string', arg: 'FILE', required: true, help: 'config.json of the model to create (vocab_size 257)' },
    { key: 'out', type: 'string', arg: 'DIR', required: true, help: 'folder for the finished model and its model card' },
    { key: 'work', type: 'string', arg: 'DIR', default: 'runs/pretrain-<name of --out>', help: 'folder for the initial model, data files, checkpoints and logs' },
    { key: 'maxSteps', type: 'int', default: '2000', help: 'optimiser steps' },
    { key: 'minutes', type: 'number', help: 'instead of --max-steps: as many steps as fit in M minutes (measured on a few steps first)' },
    { key: 'seed', type: 'int', default: '0', help: 'seed of the initial weights and the data order' },
    { key: 'context', type: 'int', default: '128', help: 'characters per training sequence' },
    { key: 'batchSize', type: 'int', default: '16', help: 'sequences per step' },
    { key: 'lr', type: 'number', default: '3e-3', help: 'peak learning rate (cosine schedule)' },
    { key: 'resume', type: 'boolean', help: 'continue the run in --work from its newest checkpoint' },
    BACKEND_OPTION,
  ],
  examples: ['lorapro pretrain --config models/base-config.json --out models/lorapro-base --max-steps 2000', 'lorapro pretrain --config models/base-config.json --out models/lorapro-base --resume'],
  async run(values, io) {
    const out = values.out as string;
    checkOutFolder(out);
    checkOutFolder((values.work as string | undefined) ?? defaultWork(out), '--work');
    await startEngine(values.backend, io);
    const log = (line: string) => io.err(line);
    const progress = createProgress(process.stderr);
    const outcome = await pretrain(
      {
        config: values.config as string,
        out,
        work: (values.work as string | undefined) ?? defaultWork(out),
        maxSteps: values.maxSteps as number | undefined,
        minutes: values.minutes as number | undefined,
        seed: values.seed as number | undefined,
        context: values.context as number | undefined,
        batchSize: values.batchSize as number | undefined,
        lr: values.lr as number | undefined,
        resume: values.resume as boolean | undefined,
        command: (steps) => commandLine(values, steps),
      },
      { progress, log },
    );
    if (outcome.result.status !== 'completed') {
      io.err(outcome.result.message ?? 'the run stopped');
      return 1;
    }
    io.out(`pretrained ${outcome.params.toLocaleString('en-US')} parameters for ${outcome.result.steps} steps in ${outcome.result.elapsedS.toFixed(1)} s`);
    io.out(`model in ${out} (${MODEL_CARD_FILE}); checkpoints and report.html in ${outcome.work}/run`);
    return 0;
  },
};
