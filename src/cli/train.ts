// lorapro train: one training run from flags or a --config file.
import { join } from 'node:path';
import { startEngine } from './engine.js';
import { latestCheckpoint } from '../train/checkpoint.js';
import { checkOutFolder } from './file-errors.js';
import { METHODS } from '../train/methods.js';
import { createProgress } from '../train/progress.js';
import { trainConfig, type TrainConfig } from '../train/config.js';
import { train, type TrainResult } from '../run/train.js';
import { builtinDataSpec, builtinSpecString } from '../train/run-data.js';
import { UsageError } from '../train/errors.js';
import { BACKEND_OPTION, MATMUL_OPTION, QUANTIZE_OPTION, type Command, type OptionSpec } from './args.js';
import { INTERRUPTED_EXIT, resumeCommand, whileInterruptible } from './interrupt.js';

/** --target-modules, as PEFT reads target_modules (adapters/peft-targets.ts). */
export const TARGET_MODULES_HELP = "modules to adapt, as PEFT's target_modules: comma-separated names, each a module path or its end (q_proj,v_proj); one regex matched against the whole module path ('.*\\.(q|v)_proj'); all-linear; or peft (PEFT's default for the model type: q,v for T5)";

/** Options shared by `train` and `compare` (everything but the method, the output and --resume). */
export const RUN_OPTIONS: readonly OptionSpec[] = [
  { key: 'model', type: 'string', arg: 'DIR', required: true, help: 'Hugging Face model folder (config.json, model.safetensors, tokenizer.json)' },
  { key: 'train', type: 'string', arg: 'FILE', help: 'training data: .jsonl, .json (array) or .csv (not with --task builtin:NAME)' },
  { key: 'eval', type: 'string', arg: 'FILE', help: 'evaluation data; without it a seeded --validation-fraction of --train is held out' },
  { key: 'task', type: 'string', arg: 'TASK', required: true, help: 'classification ({text, label} or {text_a, text_b, label}), causal-lm ({text}, {prompt, completion} or {messages}), or builtin:NAME, a built-in classification task with its own splits (docs/TASKS.md)' },
  { key: 'maxTrain', type: 'int', arg: 'N', help: 'with --task builtin:NAME: train on its first N training examples only' },
  { key: 'init', type: 'string', arg: 'INIT', default: 'default', help: 'how adapters start: default, gaussian, pissa, pissa_niter_K (randomized SVD, K iterations), olora, lora-ga (docs/METHODS.md)' },
  { key: 'gaBatches', type: 'int', default: '8', help: '--init lora-ga: training batches its gradient estimate averages over' },
  { key: 'rawAdapter', type: 'boolean', help: 'pissa/olora/lora-ga: save the adapter as trained, for the residual base (by default it is converted, as PEFT does, to a rank-2r LoRA that loads on the original model)' },
  { key: 'rank', type: 'int', default: '8', help: 'LoRA rank r' },
  { key: 'alpha', type: 'number', default: '16', help: 'LoRA alpha (scale alpha/r; alpha/sqrt(r) for rslora)' },
  QUANTIZE_OPTION,
  { key: 'targetModules', type: 'string', arg: 'LIST', default: 'all-linear', help: TARGET_MODULES_HELP },
  { key: 'loraDropout', type: 'number', default: '0', help: 'dropout on the adapter input' },
  { key: 'lr', type: 'string', arg: 'LR', default: 'auto', help: "peak learning rate: a number; auto (a short search: trial runs at --lr-grid; of the rates within one standard error of the best validation metric, the lowest); or recommended (the model folder's lorapro.json rate for the method, else a rule by the model's width, without a search)" },
  { key: 'lrGrid', type: 'string', arg: 'LIST', default: "three rates a half decade apart around the recommended rate", help: 'comma-separated learning rates the search tries' },
  { key: 'lrSearchSteps', type: 'int', default: 'a quarter of the run, at least 20', help: 'optimiser steps of each search trial' },
  { key: 'epochs', type: 'int', default: '3', help: 'passes over the training data (or give --max-steps)' },
  { key: 'maxSteps', type: 'int', help: 'optimiser steps to run, instead of --epochs' },
  { key: 'batchSize', type: 'int', default: '8', help: 'examples per micro-batch' },
  { key: 'gradAccum', type: 'int', default: '1', help: 'micro-batches per optimiser step (gradient accumulation)' },
  { key: 'maxLength', type: 'int', default: '128', help: 'tokens per example (longer ones are cut)' },
  { key: 'gradientCheckpointing', type: 'boolean', help: "recompute each transformer block's activations in the backward pass instead of keeping them: activation memory of one block plus each block's input, about a third more compute, the same gradients (GPT-2, Llama, Qwen2, Mistral)" },
  { key: 'schedule', type: 'string', arg: 'KIND', default: 'linear', help: 'learning-rate schedule: constant, linear or cosine' },
  { key: 'warmupSteps', type: 'int', default: '0', help: 'linear warmup steps' },
  { key: 'weightDecay', type: 'number', default: '0', help: 'decoupled weight decay' },
  { key: 'clipNorm', type: 'number', default: '1', help: 'clip the global gradient norm to this' },
  { key: 'evalEvery', type: 'int', default: '1/10 of the run', help: 'evaluate (and log the gradient diagnostic) every N steps' },
  { key: 'saveEvery', type: 'int', default: '--eval-every', help: 'write a checkpoint every N steps' },
  { key: 'logEvery', type: 'int', default: '1', help: 'append to metrics.jsonl every N steps' },
  { key: 'bestMetric', type: 'string', arg: 'NAME', default: 'accuracy or loss', help: 'metric that picks the best checkpoint: loss, accuracy, macroF1, mcc, perplexity' },
  { key: 'keepCheckpoints', type: 'int', default: '2', help: 'most recent checkpoints kept (plus the best)' },
  { key: 'noDivergenceGuard', type: 'boolean', help: 'keep training when the loss climbs past 3x its start or the weights grow 100x (by default the run stops and says so)' },
  { key: 'noDiagnostics', type: 'boolean', help: 'skip the per-layer gradient-approximation diagnostic at evaluations' },
  { key: 'validationFraction', type: 'number', default: '0.1', help: 'share of --train held out when there is no --eval' },
  { key: 'loraPlusRatio', type: 'number', default: '16', help: 'lora-plus: ratio of B\'s learning rate to A\'s' },
  { key: 'momentum', type: 'number', default: '0', help: 'lora-pro-sgd momentum' },
  { key: 'damping', type: 'number', default: '1e-2 for lora-pro-sgd, 1e-8 for lora-pro and lora-pro-efficient', help: 'LoRA-Pro: δ of the damped inverses (BᵀB + δI)⁻¹, (AAᵀ + δI)⁻¹' },
  { key: 'seed', type: 'int', default: '0', help: 'seed of the data order, split, head and adapter init' },
  BACKEND_OPTION,
  MATMUL_OPTION,
];

/** --resume on data files whose bytes changed since the run started (run.json keeps their SHA-256). */
export const ALLOW_DATA_CHANGE_OPTION: OptionSpec = { key: 'allowDataChange', type: 'boolean', help: 'with --resume: continue although --train or --eval changed since the run started (by default that is refused)' };

/**
 * `--task builtin:NAME [--max-train N]` → task classification with the data spec as `train`
 * (run-data reads the task's train and validation splits from it); other values pass through.
 */
export function resolveTaskOption(values: Record<string, unknown>): Record<string, unknown> {
  const { task, maxTrain, ...rest } = values;
  const spec = typeof task === 'string' ? builtinDataSpec(task) : undefined;
  if (!spec) {
    if (maxTrain !== undefined) throw new UsageError('--max-train applies only to --task builtin:NAME');
    return values;
  }
  if (rest.train !== undefined) throw new UsageError(`--task ${task} brings its own data; drop --train ${rest.train}`);
  if (rest.eval !== undefined) throw new UsageError(`--task ${task} brings its own validation split; drop --eval ${rest.eval}`);
  if (maxTrain !== undefined && !(Number.isInteger(maxTrain) && (maxTrain as number) >= 1)) throw new UsageError(`--max-train must be an integer ≥ 1, got ${maxTrain}`);
  return { ...rest, task: 'classification', train: builtinSpecString({ ...spec, maxTrain: (maxTrain as number | undefined) ?? spec.maxTrain }) };
}

/** Flags → the library's TrainConfig (the CLI-only options dropped or renamed). */
export function configFromOptions(values: Record<string, unknown>): TrainConfig {
  const { backend: _backend, matmulPrecision: _matmul, noDiagnostics, noDivergenceGuard, resumeOrStart, methods: _m, seeds: _s, ...rest } = resolveTaskOption(values);
  if (resumeOrStart && rest.resume) throw new UsageError('give --resume or --resume-or-start, not both');
  return trainConfig({ ...rest, ...(noDiagnostics ? { diagnostics: false } : {}), ...(noDivergenceGuard ? { divergenceGuard: false } : {}), ...(resumeOrStart ? { resume: 'if-any' } : {}) });
}

const LR_SOURCE: Readonly<Record<string, string>> = { given: '--lr', model: 'recommended by the model folder', rule: 'the width rule', search: 'chosen by the search' };

/** The lines `train` prints when a run ends. */
export function resultLines(config: TrainConfig, result: TrainResult): string[] {
  const lines = [`${config.method}: ${result.steps} steps in ${result.elapsedS.toFixed(1)} s${result.learningRate ? ` at lr ${result.learningRate.lr} (${LR_SOURCE[result.learningRate.source]})` : ''}`];
  if (result.finalEval) {
    const metrics = Object.entries(result.finalEval).filter(([k]) => k !== 'examples').map(([k, v]) => `${k} ${Number(v).toFixed(4)}`);
    lines.push(`final eval (${result.finalEval.examples} examples): ${metrics.join(', ')}`);
  }
  if (result.best) lines.push(`best ${result.best.metric} ${result.best.value.toFixed(4)} at step ${result.best.step} (saved in ${config.out}/best)`);
  lines.push(`outputs in ${config.out}: ${config.method === 'full' ? 'model.safetensors' : 'adapter_model.safetensors'}, run.json, metrics.jsonl, report.html`);
  return lines;
}

export const trainCommand: Command = {
  name: 'train',
  brief: 'fine-tune a model with one method (LoRA, LoRA-Pro, full, ...)',
  summary: `Fine-tunes a model with one method (${METHODS.join(', ')}), writing checkpoints, metrics.jsonl, report.html and the adapter (or the full model) into --out. Without --lr the rate comes from a short search (--lr auto: trial runs a half decade apart around the model folder's recommended rate; of those within one standard error of the best validation metric the lowest is kept, since short trials favour high rates; run.json and the report show the trials); --lr recommended skips the search. A run whose loss climbs far above its start or whose weights blow up stops and says so. Ctrl-C finishes the step, writes a checkpoint and exits 130; kill it at any point and run it again with --resume (--resume-or-start if it had no checkpoint yet). One run at a time per --out (OUT/.lorapro.lock names the process; a killed one's lock is taken over). --resume refuses a --train or --eval file whose bytes changed (run.json keeps their SHA-256) unless --allow-data-change, and skips a damaged newest checkpoint for the one before, with a warning. --out is never the --model folder nor a folder holding a model.`,
  usage: 'lorapro train --model DIR (--train FILE [--eval FILE] --task classification|causal-lm | --task builtin:NAME) --method NAME --out DIR [options]',
  configFile: true,
  options: [
    ...RUN_OPTIONS.slice(0, 4),
    { key: 'method', type: 'string', arg: 'NAME', required: true, help: `one of ${METHODS.join(', ')}` },
    ...RUN_OPTIONS.slice(4),
    { key: 'out', type: 'string', arg: 'DIR', required: true, help: 'output folder' },
    { key: 'resume', type: 'boolean', help: 'continue the run in --out from its newest checkpoint (an error when there is none)' },
    { key: 'resumeOrStart', type: 'boolean', help: 'continue the run in --out if it has a checkpoint, else start it (also a run stopped before its first checkpoint)' },
    ALLOW_DATA_CHANGE_OPTION,
  ],
  examples: [
    'lorapro train --model models/gpt2 --train data/sst2.jsonl --task classification --method lora-pro --rank 8 --epochs 3 --out runs/sst2-lora-pro',
    'lorapro train --model models/lorapro-base --task builtin:name-gender --method lora-pro --max-steps 200 --out runs/names-lora-pro',
    'lorapro train --config run.json --resume',
  ],
  async run(values, io) {
    const config = configFromOptions(values);
    checkOutFolder(config.out);
    await startEngine(values.backend, io, values.matmulPrecision);
    const progress = createProgress(process.stderr);
    const result = await whileInterruptible(io, (signal) => train(config, { progress, signal }));
    if (result.status === 'interrupted') {
      io.err(result.message ?? 'interrupted');
      const checkpoint = await latestCheckpoint(join(config.out, 'checkpoints'));
      io.err(`to continue: ${resumeCommand('train', checkpoint ? '--resume' : '--resume-or-start')}`);
      return INTERRUPTED_EXIT;
    }
    if (result.status !== 'completed') {
      io.err(result.message ?? 'the run stopped');
      return 1;
    }
    for (const line of resultLines(config, result)) io.out(line);
    return 0;
  },
};
