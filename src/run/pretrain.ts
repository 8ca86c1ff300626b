// Pretraining a small base model from scratch: a random-initialised model from a config.json, the
// byte-level tokenizer, and `full` causal-LM training on Moby-Dick chunks through the ordinary
// trainer (so checkpoints, --resume, metrics.jsonl and report.html come with it). The finished
// model is copied into --out as a Hugging Face folder with MODEL_CARD.md.
import { describeEngine } from '../engine/backend.js';
import { existsSync, mkdtempSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { tf } from '../engine/tf.js';
import { byteLevelTokenizer } from '../io/byte-tokenizer.js';
import { parseModelConfig } from '../io/hf-config.js';
import { createModel } from '../models/auto.js';
import { randomInit } from '../models/layers.js';
import { savePretrained } from '../models/pretrained.js';
import { chunkText, mobyDick } from '../tasks/corpus.js';
import { readRunFile } from '../train/run-file.js';
import { METRICS_FILE, readMetrics, type MetricsLine } from '../train/metrics-log.js';
import { trainConfig, type TrainConfig } from '../train/config.js';
import { UsageError } from '../train/errors.js';
import { train, type TrainHooks, type TrainResult } from './train.js';

export const MODEL_CARD_FILE = 'MODEL_CARD.md';
/** The files of the finished model folder (the trainer's `full` output plus the tokenizer). */
const MODEL_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'] as const;

export interface PretrainOptions {
  /** config.json of the model to create (an HF config; vocab_size must be 257 for the byte tokenizer). */
  readonly config: string;
  readonly out: string;
  /** Working folder: the initial model, the data files and the trainer's run (checkpoints). */
  readonly work?: string;
  readonly maxSteps?: number;
  /** Instead of maxSteps: as many steps as fit in this many minutes, measured on a few steps first. */
  readonly minutes?: number;
  readonly seed?: number;
  readonly resume?: boolean;
  /** Characters (≈ bytes) per training sequence. */
  readonly context?: number;
  readonly batchSize?: number;
  readonly lr?: number;
  /** The command line that rebuilds the model (given its step count), for the model card. */
  readonly command?: (steps: number) => string;
}

export interface PretrainOutcome {
  readonly result: TrainResult;
  readonly out: string;
  readonly work: string;
  readonly params: number;
  readonly steps: number;
}

/** Default working folder: runs/pretrain-<name of --out> (ignored by git). */
export const defaultWork = (out: string): string => join('runs', `pretrain-${basename(out)}`);

const VALIDATION_EVERY = 25; // every 25th chunk is held out (≈ 4%)
const MAX_VALIDATION = 128; // evaluation cost bound

/** Moby-Dick as {text} records: training chunks and every 25th chunk held out for validation. */
export function corpusSplits(context: number): { train: { text: string }[]; validation: { text: string }[]; source: string } {
  const corpus = mobyDick();
  const chunks = chunkText(corpus.chapters, context);
  const train: { text: string }[] = [];
  const validation: { text: string }[] = [];
  chunks.forEach((text, i) => ((i + 1) % VALIDATION_EVERY === 0 && validation.length < MAX_VALIDATION ? validation : train).push({ text }));
  return { train, validation, source: corpus.source };
}

/**
 * A random-initialised model (seeded) from `configJson` with the byte-level tokenizer, written to
 * `dir` as a Hugging Face folder; returns its parameter count.
 */
export async function writeInitialModel(configJson: Record<string, unknown>, dir: string, seed: number, source = 'config'): Promise<number> {
  await tf.ready();
  const vocab = configJson.vocab_size;
  if (vocab !== 257) throw new UsageError(`${source}: vocab_size must be 257 (256 bytes + <|endoftext|>) for the byte-level tokenizer, got ${JSON.stringify(vocab)}`);
  let config;
  try {
    config = parseModelConfig({ bos_token_id: 256, eos_token_id: 256, pad_token_id: 256, ...configJson }, source);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const model = createModel(config, { task: 'causal-lm', init: randomInit(seed, 0.02) });
  let params: number;
  try {
    params = [...model.namedParameters().values()].reduce((n, v) => n + v.size, 0);
    await savePretrained(model, dir);
  } finally {
    model.dispose();
  }
  const tok = byteLevelTokenizer();
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tok.tokenizerJson));
  await writeFile(join(dir, 'tokenizer_config.json'), `${JSON.stringify(tok.tokenizerConfig, null, 2)}\n`);
  return params;
}

const writeJsonl = (path: string, rows: readonly unknown[]) => writeFile(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

async function readConfigJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--config: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`--config: ${path} is not valid JSON (${(e as Error).message})`);
  }
}

function runConfig(o: PretrainOptions, work: string, maxSteps: number, out = join(work, 'run'), resume = o.resume ?? false, evalEvery = Math.max(1, Math.min(200, Math.ceil(maxSteps / 10)))): TrainConfig {
  return trainConfig({
    model: join(work, 'init'),
    train: join(work, 'data', 'train.jsonl'),
    eval: join(work, 'data', 'validation.jsonl'),
    task: 'causal-lm',
    method: 'full',
    lr: o.lr ?? 3e-3,
    maxSteps,
    batchSize: o.batchSize ?? 16,
    maxLength: (o.context ?? 128) + 8, // a chunk is ≤ context bytes; room for multi-byte characters
    schedule: 'cosine',
    warmupSteps: Math.min(50, Math.floor(maxSteps / 10)),
    weightDecay: 0.01,
    evalEvery,
    keepCheckpoints: 1,
    diagnostics: false,
    seed: o.seed ?? 0,
    out,
    resume,
  });
}

/**
 * Seconds per optimiser step: the median step of a throwaway run of `probe` steps (the first
 * steps, which compile kernels, and the last, which also evaluates and saves, are left out).
 */
async function secondsPerStep(o: PretrainOptions, work: string, probe = 8): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'lorapro-probe-'));
  const marks: number[] = [];
  try {
    await train(runConfig(o, work, probe, dir, false, probe), { onStep: () => void marks.push(performance.now()) });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const gaps = marks.slice(1, -1).map((t, i) => (t - marks[i]) / 1000).slice(1).sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)];
}

/**
 * Builds (or with `resume`, continues) a pretraining run and publishes its final model in `out`.
 *
 * @example
 *   await pretrain({ config: 'models/base-config.json', out: 'models/lorapro-base', maxSteps: 2000 });
 */
export async function pretrain(o: PretrainOptions, hooks: TrainHooks & { log?: (line: string) => void } = {}): Promise<PretrainOutcome> {
  const log = hooks.log ?? (() => {});
  const work = o.work ?? defaultWork(o.out);
  if (o.maxSteps !== undefined && o.minutes !== undefined) throw new UsageError('give either --max-steps or --minutes, not both');
  const configJson = await readConfigJson(o.config);
  const previous = o.resume ? await readRunFile(join(work, 'run')) : undefined;
  if (!o.resume && existsSync(join(work, 'run', METRICS_FILE))) throw new UsageError(`${work} already holds a pretraining run; pass --resume to continue it, or remove it`);
  const params = await writeInitialModel(configJson, join(work, 'init'), o.seed ?? 0, o.config);
  await mkdir(join(work, 'data'), { recursive: true });
  const data = corpusSplits(o.context ?? 128);
  await writeJsonl(join(work, 'data', 'train.jsonl'), data.train);
  await writeJsonl(join(work, 'data', 'validation.jsonl'), data.validation);
  log(`${params.toLocaleString('en-US')} parameters; ${data.train.length} training and ${data.validation.length} validation chunks of ≤ ${o.context ?? 128} characters from ${data.source}`);

  let steps = previous?.config.maxSteps ?? o.maxSteps ?? 2000;
  if (previous) log(`--resume: continuing the ${steps}-step run in ${join(work, 'run')}`);
  else if (o.minutes !== undefined) {
    const perStep = await secondsPerStep(o, work);
    steps = Math.max(10, Math.floor((o.minutes * 60 * 0.9) / perStep)); // 10% for evaluations and checkpoints
    log(`measured ${perStep.toFixed(3)} s per step: ${steps} steps fit in ${o.minutes} min`);
  }
  const config = runConfig(o, work, steps);
  const result = await train(config, hooks);
  if (result.status !== 'completed') return { result, out: o.out, work, params, steps };
  await mkdir(o.out, { recursive: true });
  for (const f of MODEL_FILES) await copyFile(join(config.out, f), join(o.out, f));
  const lines = await readMetrics(join(config.out, METRICS_FILE));
  await writeFile(join(o.out, MODEL_CARD_FILE), modelCard({ o, configJson, params, source: data.source, lines, result, trainChunks: data.train.length, validationChunks: data.validation.length }));
  return { result, out: o.out, work, params, steps };
}

interface CardInput {
  o: PretrainOptions;
  configJson: Record<string, unknown>;
  params: number;
  source: string;
  lines: MetricsLine[];
  result: TrainResult;
  trainChunks: number;
  validationChunks: number;
}

/** The machine, in one line (CPU model × cores, Node, TF.js, the engine). */
export function machineLine(): string {
  const cpu = cpus();
  return `${cpu[0]?.model.trim() ?? 'unknown CPU'} × ${cpu.length}, Node ${process.version}, TF.js ${tf.version_core} (engine ${describeEngine()})`;
}

export function modelCard(c: CardInput): string {
  const last = c.lines[c.lines.length - 1];
  const lastEval = [...c.lines].reverse().find((l) => l.eval)?.eval;
  const firstEval = c.lines.find((l) => l.eval)?.eval;
  const j = c.configJson;
  const fmt = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));
  const command = c.o.command?.(c.result.steps) ?? `npx lorapro pretrain --config ${c.o.config} --out ${c.o.out} --max-steps ${c.result.steps} --seed ${c.o.seed ?? 0}`;
  return `# ${basename(c.o.out)}

A small Llama-style causal language model (RMSNorm, rotary position embeddings, SwiGLU MLP) pretrained
from scratch by \`lorapro pretrain\` as the base model of lorapro's offline LoRA / LoRA-Pro comparisons.
It is a toy: it models English byte statistics, not language understanding.

| | |
| --- | --- |
| architecture | ${j.model_type}, ${j.num_hidden_layers} layers, hidden ${j.hidden_size}, ${j.num_attention_heads} heads (${j.num_key_value_heads ?? j.num_attention_heads} key/value), MLP ${j.intermediate_size}, tied embeddings: ${j.tie_word_embeddings ?? false} |
| parameters | ${c.params.toLocaleString('en-US')} |
| tokenizer | byte-level: 256 byte tokens + \`<|endoftext|>\` (id 256), vocabulary 257 |
| data | Moby-Dick (Herman Melville, 1851; public domain) from npm \`${c.source}\`: ${c.trainChunks} training chunks of ≤ ${c.o.context ?? 128} characters, ${c.validationChunks} held out (every ${VALIDATION_EVERY}th chunk) |
| training | full-parameter AdamW, lr ${c.o.lr ?? 3e-3} cosine, batch ${c.o.batchSize ?? 16}, seed ${c.o.seed ?? 0} |
| steps | ${c.result.steps} |
| tokens seen | ${last?.tokens?.toLocaleString('en-US') ?? '-'} |
| final training loss | ${fmt(last?.loss)} (last logged step; nats per byte) |
| validation loss | ${fmt(firstEval?.loss)} at the first evaluation → ${fmt(lastEval?.loss)} at the end (perplexity ${fmt(lastEval?.perplexity)}) |
| wall time | ${(c.result.elapsedS / 60).toFixed(1)} min of training |
| date | ${new Date().toISOString().slice(0, 10)} |
| machine | ${machineLine()} |

Rebuild it (the run resumes from its checkpoints if interrupted: add \`--resume\`):

\`\`\`
${command}
\`\`\`
`;
}
