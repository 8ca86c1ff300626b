// lorapro merge: folds an adapter into its base model and writes a plain Hugging Face model folder.
import { copyFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { mergeAndUnload } from '../adapters/inject.js';
import { savePretrained } from '../models/pretrained.js';
import { RUN_FILE } from '../train/run-file.js';
import { UsageError } from '../train/errors.js';
import { loadTrained } from '../train/run-model.js';
import { refuseModelOverwrite } from '../run/model-guard.js';
import { checkOutFolder } from './file-errors.js';
import { chooseEngine } from './engine.js';
import { BACKEND_OPTION, QUANTIZE_OPTION, quantizeOption, type Command } from './args.js';
import { listCheckpointFiles, readSafetensorsHeader } from '../io/safetensors.js';

const DTYPES = ['F32', 'F16', 'BF16'] as const;

/** The stored float type of a checkpoint's weights (its first 2-D tensor), F32 when not a float type merge writes. */
async function checkpointDtype(dir: string): Promise<(typeof DTYPES)[number]> {
  const [first] = await listCheckpointFiles(dir);
  const header = await readSafetensorsHeader(first);
  const dtype = [...header.tensors.values()].find((t) => t.shape.length === 2)?.dtype;
  return (DTYPES as readonly string[]).includes(dtype ?? '') ? (dtype as (typeof DTYPES)[number]) : 'F32';
}

export const mergeCommand: Command = {
  name: 'merge',
  brief: 'fold an adapter into its base model',
  summary: 'Merges an adapter into its base model (W = W0 + s·B·A) and saves a Hugging Face model folder with the tokenizer files. It never writes into the --model folder, nor over a model already in --out unless --force is given.',
  usage: 'lorapro merge --model DIR --adapter DIR --out DIR [--force]',
  options: [
    { key: 'model', type: 'string', arg: 'DIR', required: true, help: 'base model folder' },
    { key: 'adapter', type: 'string', arg: 'DIR', required: true, help: 'PEFT adapter folder' },
    { key: 'out', type: 'string', arg: 'DIR', required: true, help: 'folder for the merged model' },
    { key: 'dtype', type: 'string', arg: 'TYPE', default: "the base checkpoint's (F32, F16 or BF16)", help: 'stored weight type: F32, F16 or BF16' },
    { key: 'force', type: 'boolean', help: 'replace the model already in --out (never the --model folder itself)' },
    { ...QUANTIZE_OPTION, help: 'merge into the base quantized as given and dequantized (int8, nf4, nf4-dq), or into its original weights (none); default: as the adapter was trained (run.json)' },
    BACKEND_OPTION,
  ],
  examples: ['lorapro merge --model models/gpt2 --adapter runs/sst2-lora-pro --out models/gpt2-sst2'],
  async run(values, io) {
    const dtype = (values.dtype as string | undefined) ?? (await checkpointDtype(values.model as string));
    if (!(DTYPES as readonly string[]).includes(dtype)) throw new UsageError(`--dtype must be one of ${DTYPES.join(', ')}, got "${dtype}"`);
    const adapter = values.adapter as string;
    const out = values.out as string;
    refuseModelOverwrite(out, values.model as string, { force: values.force === true, forceFlag: '--force' }); // before the merge's work
    checkOutFolder(out); // before the merge's work, not after it
    await chooseEngine(values.backend);
    const quantize = quantizeOption(values.quantize);
    const trained = await loadTrained({ model: values.model as string, adapter, log: (l) => io.err(l), quantize });
    try {
      const q = quantize === 'auto' ? (existsSync(join(adapter, RUN_FILE)) ? (trained.run?.config.quantize ?? 'none') : 'none') : quantize;
      if (q !== 'none') io.err(`merging into the ${q}-quantized base, dequantized (the weights the adapter was trained against); written as ${dtype}. --quantize none merges into the original weights`);
      mergeAndUnload(trained.model, { safe: true });
      await savePretrained(trained.model, out, { dtype: dtype as (typeof DTYPES)[number], copyFrom: values.model as string });
      if (existsSync(join(adapter, RUN_FILE))) await copyFile(join(adapter, RUN_FILE), join(out, RUN_FILE)); // keeps the label names
      io.out(`merged ${adapter} into ${values.model}: ${out}`);
      return 0;
    } finally {
      trained.model.dispose();
    }
  },
};
