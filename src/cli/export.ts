// lorapro export gguf: the merged model (or the adapter alone) as a GGUF file for llama.cpp, Ollama
// and LM Studio (src/adapters/gguf-export.ts).
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { exportGguf } from '../adapters/gguf-export.js';
import { GGUF_FILE_TYPES, type GgufFileType } from '../models/gguf-arch.js';
import { UsageError } from '../train/errors.js';
import { requireModelDir } from '../train/run-model.js';
import type { Command } from './args.js';

const TYPES = Object.keys(GGUF_FILE_TYPES) as GgufFileType[];

export const exportCommand: Command = {
  name: 'export',
  brief: 'write a GGUF file (merged model or LoRA adapter) for llama.cpp, Ollama, LM Studio',
  summary:
    'Writes the model, with the adapter merged in (W + s·B·A), as one GGUF file: llama.cpp\'s tensor names and layout (Llama\'s Q/K rows permuted), ' +
    'the architecture\'s metadata and the tokenizer (byte-level BPE: GPT-2, Llama 3, Qwen2, SmolLM, the shipped base\'s). ' +
    'With --adapter-only it writes a GGUF LoRA adapter to apply on the base model\'s GGUF (llama.cpp --lora, Ollama ADAPTER). ' +
    'Supported: llama, mistral, qwen2 (SmolLM is llama) and gpt2 causal LMs; anything llama.cpp would compute or tokenize differently is refused with the reason. ' +
    'q8_0 and q4_0 are ggml\'s block formats; a matrix whose rows are not whole 32-value blocks is stored as f16, vectors as f32.',
  usage: 'lorapro export gguf --model DIR [--adapter DIR] --out FILE.gguf [--type f32|f16|bf16|q8_0|q4_0] [--adapter-only] [--force]',
  subcommands: ['gguf'],
  options: [
    { key: 'model', type: 'string', arg: 'DIR', required: true, help: 'base model folder (config.json, safetensors, tokenizer.json)' },
    { key: 'adapter', type: 'string', arg: 'DIR', help: 'PEFT adapter folder (a run\'s output) to merge in' },
    { key: 'out', type: 'string', arg: 'FILE', required: true, help: 'the .gguf file to write' },
    { key: 'type', type: 'string', arg: 'TYPE', default: 'f16', help: `stored type of the matrices: ${TYPES.join(', ')}` },
    { key: 'adapterOnly', type: 'boolean', help: 'write only the adapter, as a GGUF LoRA adapter for the base model\'s GGUF' },
    { key: 'name', type: 'string', arg: 'NAME', help: 'general.name in the file (default: the folder\'s name)' },
    { key: 'force', type: 'boolean', help: 'overwrite --out if it exists' },
  ],
  examples: [
    'lorapro export gguf --model models/lorapro-base --out base.gguf',
    'lorapro export gguf --model models/lorapro-base --adapter runs/spam --out spam-q8.gguf --type q8_0',
    'lorapro export gguf --model models/lorapro-base --adapter runs/spam --adapter-only --out spam-lora.gguf',
  ],
  async run(values, io) {
    const type = ((values.type as string | undefined) ?? 'f16').toLowerCase();
    if (!(TYPES as string[]).includes(type)) throw new UsageError(`--type must be one of ${TYPES.join(', ')}, got "${values.type}"`);
    const model = values.model as string;
    const adapter = values.adapter as string | undefined;
    const out = values.out as string;
    const adapterOnly = values.adapterOnly === true;
    requireModelDir(model);
    if (adapterOnly && adapter === undefined) throw new UsageError('--adapter-only needs --adapter DIR (the adapter to export)');
    if (adapter !== undefined && !existsSync(adapter)) throw new UsageError(`--adapter: folder not found: ${adapter}`);
    if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`--out: ${out} is a folder; give a file name such as ${out.replace(/\/$/, '')}/model.gguf`);
    if (existsSync(out) && values.force !== true) throw new UsageError(`--out: ${out} exists; pass --force to overwrite it`);
    if (!existsSync(dirname(out) || '.')) throw new UsageError(`--out: folder ${dirname(out)} does not exist`);
    const summary = await exportGguf({ model, adapter, out, type: type as GgufFileType, adapterOnly, name: values.name as string | undefined });
    const what = adapterOnly ? `LoRA adapter (${summary.adaptedModules} layers)` : `${summary.arch} model${adapter ? ` with ${summary.adaptedModules} adapted layers merged` : ''}, tokenizer pre "${summary.pre}"`;
    io.out(`wrote ${out}: ${what}, ${summary.tensors} tensors, ${type}`);
    return 0;
  },
};
