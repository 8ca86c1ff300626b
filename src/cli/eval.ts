// lorapro eval: metrics of a model (with an adapter) on a dataset file.
import { startEngine } from './engine.js';
import { evaluate } from '../train/evaluate.js';
import { TASKS, type TaskName } from '../train/config.js';
import { loadEvalData } from '../train/run-data.js';
import { UsageError } from '../train/errors.js';
import { loadTrained, padIdOf, planTrained } from '../train/run-model.js';
import { checkInferenceMemory } from '../run/memory-check.js';
import { BACKEND_OPTION, MATMUL_OPTION, QUANTIZE_OPTION, quantizeOption, type Command } from './args.js';

export function taskOption(value: unknown): TaskName | undefined {
  if (value === undefined) return undefined;
  if (!(TASKS as readonly unknown[]).includes(value)) throw new UsageError(`--task must be one of ${TASKS.join(', ')}, got "${value}"`);
  return value as TaskName;
}

export const evalCommand: Command = {
  name: 'eval',
  brief: 'metrics of a model (with an adapter) on a dataset',
  summary: 'Evaluates a model, or a base model with an adapter, on a dataset: loss, accuracy, macro-F1 and MCC for classification; loss and perplexity for causal LM.',
  usage: 'lorapro eval --model DIR [--adapter DIR] --data FILE [--json]',
  options: [
    { key: 'model', type: 'string', arg: 'DIR', required: true, help: 'base model folder (or a full fine-tuning output folder)' },
    { key: 'adapter', type: 'string', arg: 'DIR', help: 'PEFT adapter folder, e.g. a `lorapro train --out` folder' },
    { key: 'data', type: 'string', arg: 'FILE', required: true, help: 'dataset file (.jsonl, .json or .csv)' },
    { key: 'task', type: 'string', arg: 'TASK', help: 'classification or causal-lm (default: from run.json, the adapter, or the model)' },
    { key: 'batchSize', type: 'int', default: '16', help: 'examples per batch' },
    { key: 'maxLength', type: 'int', default: 'as trained, else 128', help: 'tokens per example' },
    { key: 'json', type: 'boolean', help: 'print one JSON object with the metrics as the last line' },
    QUANTIZE_OPTION,
    BACKEND_OPTION,
    MATMUL_OPTION,
  ],
  examples: ['lorapro eval --model models/gpt2 --adapter runs/sst2-lora-pro --data data/sst2-dev.jsonl --json'],
  async run(values, io) {
    await startEngine(values.backend, io, values.matmulPrecision);
    const log = (line: string) => io.err(line);
    const batchSize = (values.batchSize as number | undefined) ?? 16;
    if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new UsageError(`--batch-size must be a positive integer, got ${batchSize}`);
    const options = { model: values.model as string, adapter: values.adapter as string | undefined, task: taskOption(values.task), log, quantize: quantizeOption(values.quantize) };
    const plan = await planTrained(options);
    const maxLength = (values.maxLength as number | undefined) ?? plan.run?.maxLength ?? 128;
    await checkInferenceMemory({ ...options, command: 'eval', batchSize, inputLength: maxLength, newTokens: 0 }, plan); // before any weight is loaded
    const trained = await loadTrained(options, { plan });
    try {
      // Without --adapter, --task or run.json the architecture chose the task; labelled data then means a mix-up.
      const taskGuessedFrom = trained.taskSource === 'config.json' && values.adapter === undefined ? (values.model as string) : undefined;
      const items = loadEvalData(values.data as string, { task: trained.task, maxLength, labels: trained.labels, labelOrigin: trained.labelOrigin, taskGuessedFrom }, trained.tokenizer);
      if (items.length === 0) throw new UsageError(`--data: ${values.data} has no example to evaluate`);
      const metrics = await evaluate(trained.model, items, batchSize, padIdOf(trained.tokenizer, values.model as string));
      const result = { task: trained.task, data: values.data, ...metrics };
      if (values.json) io.out(JSON.stringify(result));
      else for (const [k, v] of Object.entries(metrics)) io.out(`${k.padEnd(10)} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : v}`);
      return 0;
    } finally {
      trained.model.dispose();
    }
  },
};
