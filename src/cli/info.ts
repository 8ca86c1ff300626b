// lorapro info: parameter counts, weights/gradients/optimiser state per method, and the full memory
// estimate of a run at a batch and length, from config.json and the checkpoint's
// headers alone, so it works for models that do not fit.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseTargetModules } from '../adapters/peft-targets.js';
import { describeEngine } from '../engine/backend.js';
import { nativeStatus } from '../engine/native.js';
import { floatWeights } from '../io/float-weights.js';
import { readModelConfig, type ModelConfig } from '../io/hf-config.js';
import { forEachCheckpointTensor } from '../io/safetensors-shards.js';
import { createModel } from '../models/auto.js';
import { zerosInit } from '../models/layers.js';
import type { AnyModel } from '../models/types.js';
import { readRecommendations, RECOMMENDATIONS_FILE, recommendedRate, searchGrid, widthOf } from '../train/lr-defaults.js';
import { checkMethod, headModules, INIT_SUMMARIES, INITS, METHODS, type MethodName } from '../train/methods.js';
import { allMethodCosts, countParameters, humanBytes, humanCount, methodCost, type MethodCost, type ModelCounts } from '../train/run-memory.js';
import { countsFromShape, decoderShape, estimateLines, gib, memoryProblems, QUANTIZE_OPTIONS, type QuantizeOption } from '../train/memory-estimate.js';
import type { TaskName } from '../train/config.js';
import { estimateFor, machineLimits, refusal } from '../run/memory-check.js';
import { modelShape } from '../train/memory-stacks.js';
import { defaultTask } from '../models/auto.js';
import { UsageError } from '../train/errors.js';
import { MODEL_TASK, requireModelDir } from '../train/run-model.js';
import { BACKEND_OPTION, type Command } from './args.js';
import { chooseEngine } from './engine.js';
import { taskOption } from './eval.js';
import { TARGET_MODULES_HELP } from './train.js';

/** Each method's recommended rate (the folder's, else the width rule's) and the grid a run without --lr searches. */
async function learningRateLines(dir: string, config: ModelConfig, methods: readonly MethodName[]): Promise<string[]> {
  const recommendations = await readRecommendations(dir);
  const width = widthOf(config);
  const rows = methods.map((m) => {
    const { lr: centre, fromFolder } = recommendedRate(m, config, recommendations);
    return `  ${m.padEnd(19)}${String(Number(centre.toPrecision(3))).padEnd(9)}${(fromFolder ? `lorapro.json` : `width rule (${width})`).padEnd(18)}${searchGrid(centre).join(', ')}`;
  });
  return [`learning rates: --lr recommended, where it comes from, and the grid a run without --lr searches (${join(dir, RECOMMENDATIONS_FILE)})`, ...rows];
}

function costTable(costs: readonly MethodCost[], total: number): string[] {
  const head = ['method', 'trainable', '% of all', 'weights', 'gradients', 'optimizer', 'total'];
  const rows = costs.map((c) => [
    c.method,
    humanCount(c.trainableParams),
    `${((100 * c.trainableParams) / total).toFixed(2)}%`,
    humanBytes(c.weightBytes),
    humanBytes(c.gradientBytes),
    humanBytes(c.optimizerBytes),
    humanBytes(c.weightBytes + c.gradientBytes + c.optimizerBytes),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
}

export const infoCommand: Command = {
  name: 'info',
  brief: 'parameter counts and memory estimates per method',
  summary: 'Prints a model\'s parameter count, the trainable parameters of each method and an estimate of their memory for weights, gradients and optimiser state (float32; activations not included), and the learning rate each method takes without --lr.',
  usage: 'lorapro info --model DIR [--method NAME] [--rank N] [--target-modules LIST] [--quantize none|int8|nf4|nf4-dq] [--batch-size B] [--max-length T] [--gradient-checkpointing]',
  options: [
    { key: 'model', type: 'string', arg: 'DIR', required: true, help: 'model folder (config.json is read; the weights are checked, not loaded)' },
    { key: 'method', type: 'string', arg: 'NAME', help: `one method (default: all of ${METHODS.join(', ')})` },
    { key: 'rank', type: 'int', default: '8', help: 'LoRA rank r' },
    { key: 'targetModules', type: 'string', arg: 'LIST', default: 'all-linear', help: TARGET_MODULES_HELP },
    { key: 'task', type: 'string', arg: 'TASK', default: "the config's", help: 'classification or causal-lm' },
    { key: 'numLabels', type: 'int', default: '2', help: 'labels of a classification head' },
    { key: 'quantize', type: 'string', arg: 'FORMAT', default: 'none', help: 'memory estimate: the frozen base quantized to int8, nf4 or nf4-dq (none: the checkpoint\'s dtype)' },
    { key: 'batchSize', type: 'int', default: '8', help: 'memory estimate: examples per micro-batch' },
    { key: 'maxLength', type: 'int', default: '128', help: 'memory estimate: tokens per example' },
    { key: 'gradientCheckpointing', type: 'boolean', help: 'memory estimate: with --gradient-checkpointing' },
    BACKEND_OPTION,
  ],
  examples: ['lorapro info --model models/gpt2 --method lora-pro --rank 16', 'lorapro info --model models/llama-1b --method lora --quantize nf4 --batch-size 4 --max-length 256 --gradient-checkpointing'],
  async run(values, io) {
    const method = values.method === undefined ? undefined : checkMethod(values.method as string);
    const rank = (values.rank as number | undefined) ?? 8;
    if (!(Number.isInteger(rank) && rank > 0)) throw new UsageError(`--rank must be a positive integer, got ${rank}`);
    const dir = values.model as string;
    requireModelDir(dir);
    await chooseEngine(values.backend);
    const config = await readModelConfig(dir);
    const weights = await hasCheckpoint(dir);
    if (weights) await checkWeights(dir);
    const task = taskOption(values.task);
    const target = targetsOption(values.targetModules);
    const modelTask = task ? MODEL_TASK[task] : defaultTask(config);
    const shape = decoderShape(config);
    const numLabels = (values.numLabels as number | undefined) ?? 2;
    // decoders are counted from config.json (nothing built: an 8 B model's info needs no 32 GB); others by building the model
    const counted = shape ? { counts: countsFromShape(shape, { rank, targetModules: target, task: modelTask, numLabels }), architecture: config.architectures?.[0] ?? config.modelType, task: modelTask } : countByBuilding(config, task, values.numLabels as number | undefined, rank, target);
    const { counts } = counted;
    io.out(`engine: ${describeEngine()}${nativeNote()}`);
    io.out(`model: ${dir} (${counted.architecture}, ${config.modelType}, ${counted.task})${weights ? "" : "; config.json only: no weights to check"}`);
    io.out(`parameters: ${humanCount(counts.totalParams)} (${counts.totalParams})`);
    io.out(`LoRA rank ${rank} on ${typeof target === 'string' ? target : target.join(', ')}: ${counts.adaptedLayers} adapted layers, ${humanCount(counts.adapterParams)} adapter parameters${counts.headParams ? `, ${humanCount(counts.headParams)} head parameters trained in full` : ''}`);
    io.out('');
    const costs = method ? [methodCost(method, counts)] : allMethodCosts(counts);
    for (const line of costTable(costs, counts.totalParams)) io.out(line);
    io.out('');
    io.out(`memory: float32 weights, one gradient per trainable parameter, optimizer state (AdamW: 2 moments per trainable parameter; lora-pro full mode: 2 m×n moments per adapted layer = ${humanCount(2 * counts.adaptedWeightParams)} values; lora-pro-sgd without momentum: none). Activations are not included.`);
    io.out('');
    if (modelShape(config)) {
      for (const line of await runEstimateLines(dir, config, method, { rank, targetModules: target, task: modelTask, numLabels, values })) io.out(line);
      io.out('');
    }
    for (const l of await learningRateLines(dir, config, method ? [method] : METHODS)) io.out(l);
    io.out('');
    io.out('inits (--init INIT, or NAME@INIT in compare --methods and bench paper --methods; docs/METHODS.md):');
    for (const i of INITS) io.out(`  ${i.padEnd(15)}${INIT_SUMMARIES[i]}`);
    return 0;
  },
};

/** --target-modules as PEFT reads target_modules (names, a regex, all-linear or peft). */
export function targetsOption(value: unknown): readonly string[] | string {
  try {
    return parseTargetModules(value ?? 'all-linear');
  } catch (e) {
    throw new UsageError(`--target-modules ${(e as Error).message}`);
  }
}

/**
 * Reads the checkpoint of `dir` one tensor at a time as a load would, without building the model: a
 * truncated file, a missing shard or a NaN / Inf weight is an InputFileError naming the file.
 */
/** Whether `dir` holds safetensors weights: a folder with config.json alone still gets its estimate. */
async function hasCheckpoint(dir: string): Promise<boolean> {
  return (await readdir(dir)).some((f) => f.endsWith('.safetensors') || f.endsWith('.safetensors.index.json'));
}

async function checkWeights(dir: string): Promise<void> {
  await forEachCheckpointTensor(dir, (name, raw, file) => {
    if (FLOAT_DTYPES.has(raw.dtype)) floatWeights(raw, name, file); // integer tensors may be buffers (position_ids)
  });
}

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);


/** Counts of a model this file cannot read from its config (BERT, T5): built with zero weights, adapters injected and removed. */
function countByBuilding(config: ModelConfig, task: TaskName | undefined, numLabels: number | undefined, rank: number, target: readonly string[] | string): { counts: ModelCounts; architecture: string; task: string } {
  let model: AnyModel;
  try {
    model = createModel(config, { task: task && MODEL_TASK[task], numLabels, init: zerosInit() });
  } catch (e) {
    throw new UsageError((e as Error).message); // e.g. --task causal-lm for an encoder
  }
  try {
    const counts = countParameters(model, { rank, alpha: 16, targetModules: target, modulesToSave: model.task === 'sequence-classification' ? headModules(model) : [] });
    return { counts, architecture: model.architecture, task: model.task };
  } finally {
    model.dispose();
  }
}

/** The run estimate: every part for one --method, else one row per method; whether each fits here. */
async function runEstimateLines(
  dir: string,
  config: ModelConfig,
  method: MethodName | undefined,
  o: { rank: number; targetModules: readonly string[] | string; task: 'causal-lm' | 'sequence-classification'; numLabels: number; values: Record<string, unknown> },
): Promise<string[]> {
  const quantize = (o.values.quantize as string | undefined) ?? 'none';
  if (!(QUANTIZE_OPTIONS as readonly string[]).includes(quantize)) throw new UsageError(`--quantize must be one of ${QUANTIZE_OPTIONS.join(', ')}, got ${JSON.stringify(quantize)}`);
  const batchSize = (o.values.batchSize as number | undefined) ?? 8;
  const maxLength = (o.values.maxLength as number | undefined) ?? 128;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new UsageError(`--batch-size must be an integer ≥ 1, got ${batchSize}`);
  if (!(Number.isInteger(maxLength) && maxLength >= 2)) throw new UsageError(`--max-length must be an integer ≥ 2, got ${maxLength}`);
  const base = { rank: o.rank, targetModules: o.targetModules, task: o.task, numLabels: o.numLabels, quantize: quantize as QuantizeOption, batchSize, maxLength, gradientCheckpointing: o.values.gradientCheckpointing === true };
  if (method) {
    const found = (await estimateFor(dir, { ...base, method }, config))!;
    const problems = memoryProblems(found.estimate, found.limits);
    if (problems.length === 0) return [...estimateLines(found.estimate, found.limits), '  fits on this machine by the estimate'];
    return refusal(`does not fit: ${problems.join('; ')}`, found.shape, found.estimate, found.limits).split('\n');
  }
  const rows: string[][] = [];
  for (const m of METHODS) {
    const { estimate, limits } = (await estimateFor(dir, { ...base, method: m }, config))!;
    const problems = memoryProblems(estimate, limits);
    rows.push([m, gib(estimate.heapBytes), gib(estimate.nativeBytes), gib(estimate.processBytes), problems.length === 0 ? 'yes' : 'no']);
  }
  const head = ['method', 'wasm heap', 'outside', 'process', 'fits here'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const limits = await machineLimits();
  return [
    `memory of a run at batch ${batchSize} × ${maxLength} tokens${base.gradientCheckpointing ? ', gradient checkpointing' : ''}, --quantize ${quantize} (wasm heap ceiling ${Number.isFinite(limits.heapBytes) ? gib(limits.heapBytes) : 'none'}, ${gib(limits.machineBytes)} available; --method M shows the parts):`,
    ...[head, ...rows].map((r) => '  ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')),
  ];
}

/** Why the native engine is not the one in use, when it is not. */
function nativeNote(): string {
  const status = nativeStatus();
  return status.available ? '' : ` (native engine unavailable: ${status.reason})`;
}
