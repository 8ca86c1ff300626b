// lorapro info: parameter counts and a memory estimate (weights, gradients, optimiser state) per method.
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
import { allMethodCosts, countParameters, humanBytes, humanCount, methodCost, type MethodCost } from '../train/run-memory.js';
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
  usage: 'lorapro info --model DIR [--method NAME] [--rank N] [--target-modules LIST]',
  options: [
    { key: 'model', type: 'string', arg: 'DIR', required: true, help: 'model folder (config.json is read; the weights are checked, not loaded)' },
    { key: 'method', type: 'string', arg: 'NAME', help: `one method (default: all of ${METHODS.join(', ')})` },
    { key: 'rank', type: 'int', default: '8', help: 'LoRA rank r' },
    { key: 'targetModules', type: 'string', arg: 'LIST', default: 'all-linear', help: TARGET_MODULES_HELP },
    { key: 'task', type: 'string', arg: 'TASK', default: "the config's", help: 'classification or causal-lm' },
    { key: 'numLabels', type: 'int', default: '2', help: 'labels of a classification head' },
    BACKEND_OPTION,
  ],
  examples: ['lorapro info --model models/gpt2 --method lora-pro --rank 16'],
  async run(values, io) {
    const method = values.method === undefined ? undefined : checkMethod(values.method as string);
    const rank = (values.rank as number | undefined) ?? 8;
    if (!(Number.isInteger(rank) && rank > 0)) throw new UsageError(`--rank must be a positive integer, got ${rank}`);
    const dir = values.model as string;
    requireModelDir(dir);
    await chooseEngine(values.backend);
    const config = await readModelConfig(dir);
    await checkWeights(dir);
    const task = taskOption(values.task);
    let model: AnyModel;
    try {
      model = createModel(config, { task: task && MODEL_TASK[task], numLabels: values.numLabels as number | undefined, init: zerosInit() });
    } catch (e) {
      throw new UsageError((e as Error).message); // e.g. --task causal-lm for an encoder
    }
    try {
      const target = targetsOption(values.targetModules);
      const counts = countParameters(model, { rank, alpha: 16, targetModules: target, modulesToSave: model.task === 'sequence-classification' ? headModules(model) : [] });
      io.out(`engine: ${describeEngine()}${nativeNote()}`);
      io.out(`model: ${dir} (${model.architecture}, ${config.modelType}, ${model.task})`);
      io.out(`parameters: ${humanCount(counts.totalParams)} (${counts.totalParams})`);
      io.out(`LoRA rank ${rank} on ${typeof target === 'string' ? target : target.join(', ')}: ${counts.adaptedLayers} adapted layers, ${humanCount(counts.adapterParams)} adapter parameters${counts.headParams ? `, ${humanCount(counts.headParams)} head parameters trained in full` : ''}`);
      io.out('');
      const costs = method ? [methodCost(method, counts)] : allMethodCosts(counts);
      for (const line of costTable(costs, counts.totalParams)) io.out(line);
      io.out('');
      io.out(`memory: float32 weights, one gradient per trainable parameter, optimizer state (AdamW: 2 moments per trainable parameter; lora-pro full mode: 2 m×n moments per adapted layer = ${humanCount(2 * counts.adaptedWeightParams)} values; lora-pro-sgd without momentum: none). Activations are not included.`);
      io.out('');
      for (const l of await learningRateLines(dir, config, method ? [method] : METHODS)) io.out(l);
      io.out('');
      io.out('inits (--init INIT, or NAME@INIT in compare --methods and bench paper --methods; docs/METHODS.md):');
      for (const i of INITS) io.out(`  ${i.padEnd(15)}${INIT_SUMMARIES[i]}`);
      return 0;
    } finally {
      model.dispose();
    }
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
async function checkWeights(dir: string): Promise<void> {
  await forEachCheckpointTensor(dir, (name, raw, file) => {
    if (FLOAT_DTYPES.has(raw.dtype)) floatWeights(raw, name, file); // integer tensors may be buffers (position_ids)
  });
}

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);

/** Why the native engine is not the one in use, when it is not. */
function nativeNote(): string {
  const status = nativeStatus();
  return status.available ? '' : ` (native engine unavailable: ${status.reason})`;
}
