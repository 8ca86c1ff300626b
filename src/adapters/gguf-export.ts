// `lorapro export gguf`: a Hugging Face causal LM (with a PEFT adapter merged in, W + s·B·A per
// layer) or the adapter alone, as a GGUF file llama.cpp loads. Streams: the checkpoint is read one
// tensor at a time (any shard), each tensor is merged, laid out and quantized on its own and written
// at its place in a temp file that is renamed into place at the end. The adapter's factors are the
// only thing held throughout.
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ggufTokenizer } from '../io/gguf-tokenizer.js';
import { writeGguf, type GgufKv, type GgufTensorInfo } from '../io/gguf-write.js';
import { readModelConfig } from '../io/hf-config.js';
import { InputFileError } from '../io/input-error.js';
import { readJsonFile, readOptionalJsonFile, readOptionalTextFile } from '../io/json-file.js';
import { toFloat32 } from '../io/safetensors-convert.js';
import { show, type RawTensor } from '../io/safetensors-dtype.js';
import { listCheckpointFiles } from '../io/safetensors-shards.js';
import { openSafetensors, readSafetensors, type OpenSafetensors } from '../io/safetensors-read.js';
import { GGML_TYPES } from '../quant/ggml-type-traits.js';
import { GGUF_FILE_TYPES, ggufArchitecture, ggufTensorType, permuteRopeRows, transposeMatrix, type GgufArchitecture, type GgufFileType, type GgufTensorRule } from '../models/gguf-arch.js';
import { patternValue } from './inject.js';
import { loraScale, mutatesBase } from './lora-config.js';
import { readAdapterConfig } from './peft-files.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, fromPeftName } from './peft-format.js';

export interface GgufExportOptions {
  /** Base model folder (config.json, safetensors, tokenizer.json). */
  readonly model: string;
  /** PEFT adapter folder to merge in (or, with adapterOnly, to export alone). */
  readonly adapter?: string;
  readonly out: string;
  readonly type: GgufFileType;
  readonly adapterOnly?: boolean;
  /** general.name; default the folder's name. */
  readonly name?: string;
}

export interface GgufExportSummary {
  readonly arch: string;
  readonly tensors: number;
  /** tokenizer.ggml.pre of a model export. */
  readonly pre?: string;
  readonly adaptedModules: number;
}

/** One adapted layer: A [r, in], B [out, r] (B already scaled where noted), PEFT's scale s. */
interface LoraFactors {
  readonly a: Float32Array;
  readonly b: Float32Array;
  readonly r: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly scale: number;
  readonly alpha: number;
}

interface AdapterParts {
  readonly alpha: number;
  /** By module path (`model.layers.0.self_attn.q_proj`). */
  readonly lora: Map<string, LoraFactors>;
  /** modules_to_save tensors by parameter name, replacing the base's. */
  readonly saved: Map<string, RawTensor>;
}

async function readAdapterParts(dir: string): Promise<AdapterParts> {
  const configPath = join(dir, ADAPTER_CONFIG);
  if (!existsSync(configPath)) throw new InputFileError(configPath, `${dir} is not a PEFT adapter folder (no ${ADAPTER_CONFIG})`);
  const config = await readAdapterConfig(dir);
  if (config.useDora) throw new InputFileError(configPath, `${configPath}: DoRA adapters have no GGUF form; fold it first with "lorapro merge", then export the merged folder`);
  if (mutatesBase(config.initLoraWeights)) throw new InputFileError(configPath, `${configPath}: init_lora_weights "${config.initLoraWeights}" was saved raw (for the rewritten base); save it without --raw-adapter so it is a LoRA for the original base`);
  const weightsPath = join(dir, ADAPTER_WEIGHTS);
  const file = await readSafetensors(weightsPath);
  const factors = new Map<string, { a?: RawTensor; b?: RawTensor }>();
  const saved = new Map<string, RawTensor>();
  for (const [key, raw] of file.tensors) {
    const name = fromPeftName(key);
    const m = name === undefined ? null : /^(.+)\.lora_([AB])\.weight$/.exec(name);
    if (m) {
      const entry = factors.get(m[1]) ?? {};
      entry[m[2] === 'A' ? 'a' : 'b'] = raw;
      factors.set(m[1], entry);
    } else if (name !== undefined && !name.endsWith('.lora_magnitude_vector.weight')) saved.set(name, raw);
    else throw new InputFileError(weightsPath, `${weightsPath}: tensor ${show(key)} is not a LoRA factor lorapro can export`);
  }
  const lora = new Map<string, LoraFactors>();
  for (const [path, { a, b }] of factors) {
    if (!a || !b || a.shape.length !== 2 || b.shape.length !== 2 || a.shape[0] !== b.shape[1]) {
      throw new InputFileError(weightsPath, `${weightsPath}: ${path} needs lora_A [r, in] and lora_B [out, r], got ${show(a?.shape)} and ${show(b?.shape)}`);
    }
    const r = a.shape[0];
    const alpha = patternValue(config.alphaPattern, path) ?? config.loraAlpha;
    const rank = patternValue(config.rankPattern, path) ?? config.r;
    lora.set(path, { a: toFloat32(a, path), b: toFloat32(b, path), r, inFeatures: a.shape[1], outFeatures: b.shape[0], scale: loraScale(rank, alpha, config.useRslora), alpha });
  }
  return { alpha: config.loraAlpha, lora, saved };
}

/** The adapter's module for a checkpoint weight: `${path}.weight`, the checkpoint's name missing GPT-2's "transformer." or not. */
function moduleOf(hfName: string, modules: ReadonlyMap<string, unknown>): string | undefined {
  if (!hfName.endsWith('.weight')) return undefined;
  const path = hfName.slice(0, -'.weight'.length);
  return [path, `transformer.${path}`].find((p) => modules.has(p));
}

interface CheckpointEntry {
  readonly hfName: string;
  readonly file: string;
  readonly shape: number[];
  readonly rule: GgufTensorRule;
}

/** Every checkpoint tensor with its GGUF rule; names llama.cpp would not know are refused together. */
async function planCheckpoint(model: string, arch: GgufArchitecture): Promise<CheckpointEntry[]> {
  const entries: CheckpointEntry[] = [];
  const unknown: string[] = [];
  for (const file of await listCheckpointFiles(model)) {
    const reader = await openSafetensors(file);
    try {
      for (const [hfName, info] of reader.header.tensors) {
        const rule = arch.tensorRule(hfName);
        if (rule === 'skip') continue;
        if (rule === undefined) unknown.push(hfName);
        else entries.push({ hfName, file, shape: info.shape, rule });
      }
    } finally {
      await reader.close();
    }
  }
  if (unknown.length) throw new InputFileError(model, `${model}: cannot export to GGUF: tensors llama.cpp's ${arch.arch} has no place for: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`);
  const order = (name: string): number => (name.startsWith('token_embd') || name.startsWith('position_embd') || name.startsWith('rope_freqs') ? -1 : /^blk\.(\d+)\./.test(name) ? Number(/^blk\.(\d+)\./.exec(name)![1]) : 1e9);
  return entries.sort((x, y) => order(x.rule.name) - order(y.rule.name));
}

/** A tensor's [rows, cols] after the rule's transpose (a vector: [n, 1]). */
const rowsCols = (shape: readonly number[], rule: GgufTensorRule): [number, number] =>
  shape.length === 1 ? [shape[0], 1] : rule.transpose ? [shape[1], shape[0]] : [shape[0], shape[1]];

const dimsOf = (rows: number, cols: number, vector: boolean): number[] => (vector ? [rows] : [cols, rows]);

/** W [out, in] += s·B·A, one row at a time in float64. */
function addLora(w: Float32Array, f: LoraFactors, name: string): void {
  if (w.length !== f.outFeatures * f.inFeatures) throw new InputFileError(name, `${name}: the adapter's B·A is [${f.outFeatures}, ${f.inFeatures}], the base weight has ${w.length} values`);
  const row = new Float64Array(f.inFeatures);
  for (let o = 0; o < f.outFeatures; o++) {
    row.fill(0);
    for (let k = 0; k < f.r; k++) {
      const b = f.scale * f.b[o * f.r + k];
      if (b === 0) continue;
      const a = f.a.subarray(k * f.inFeatures, (k + 1) * f.inFeatures);
      for (let i = 0; i < f.inFeatures; i++) row[i] += b * a[i];
    }
    for (let i = 0; i < f.inFeatures; i++) w[o * f.inFeatures + i] += row[i];
  }
}

function generalKvs(arch: string, name: string, type: GgufFileType): GgufKv[] {
  return [
    { key: 'general.architecture', type: 'string', value: arch },
    { key: 'general.name', type: 'string', value: name },
    { key: 'general.file_type', type: 'u32', value: GGUF_FILE_TYPES[type] },
    { key: 'general.quantization_version', type: 'u32', value: 2 },
  ];
}

async function tokenizerKvs(model: string, modelType: string, vocabSize: number): Promise<ReturnType<typeof ggufTokenizer>> {
  const jsonPath = join(model, 'tokenizer.json');
  if (!existsSync(jsonPath)) throw new InputFileError(jsonPath, `${model} has no tokenizer.json; a GGUF model carries its tokenizer (export the adapter alone with --adapter-only, or add the base's tokenizer files)`);
  const [tokenizerJson, tokenizerConfig, specialTokensMap, chatTemplate] = await Promise.all([
    readJsonFile(jsonPath),
    readOptionalJsonFile(join(model, 'tokenizer_config.json')),
    readOptionalJsonFile(join(model, 'special_tokens_map.json')),
    readOptionalTextFile(join(model, 'chat_template.jinja')),
  ]);
  return ggufTokenizer({ tokenizerJson, tokenizerConfig, specialTokensMap, chatTemplate, modelType }, model, vocabSize);
}

/**
 * Writes `o.out` as GGUF: the merged model, or with `adapterOnly` a GGUF LoRA adapter for the base's
 * GGUF. Refuses, naming the file and the reason, architectures, tokenizers and adapters llama.cpp
 * would not run identically. Overwrites `o.out` (the command asks for --force first).
 *
 * @example
 *   await exportGguf({ model: 'models/lorapro-base', adapter: 'runs/a', out: 'a.gguf', type: 'q8_0' });
 */
export async function exportGguf(o: GgufExportOptions): Promise<GgufExportSummary> {
  const config = await readModelConfig(o.model);
  const arch = ggufArchitecture(config, join(o.model, 'config.json'));
  const adapter = o.adapter !== undefined ? await readAdapterParts(o.adapter) : undefined;
  const entries = await planCheckpoint(o.model, arch);
  const name = o.name ?? basename(resolve(o.adapterOnly && o.adapter ? o.adapter : o.model));
  if (o.adapterOnly) {
    if (!adapter) throw new InputFileError(o.model, 'adapterOnly needs an adapter folder');
    return writeAdapter(o, arch, entries, adapter, name);
  }
  const tok = await tokenizerKvs(o.model, config.modelType, arch.vocabSize);
  const matched = new Set<string>();
  const tensors: GgufTensorInfo[] = [];
  for (const e of entries) {
    const [rows, cols] = rowsCols(e.shape, e.rule);
    const dims = dimsOf(rows, cols, e.shape.length === 1);
    tensors.push({ name: e.rule.name, dims, type: ggufTensorType(o.type, e.rule.name, dims) });
    const module = adapter && moduleOf(e.hfName, adapter.lora);
    if (module) matched.add(module);
  }
  for (const x of arch.extraTensors) tensors.push({ name: x.name, dims: [x.values.length], type: 'F32' });
  if (adapter) checkAllPlaced(adapter, matched, entries, o.adapter!);
  const kvs = [...generalKvs(arch.arch, name, o.type), ...arch.kvs, ...tok.kvs];
  const readers = new Map<string, OpenSafetensors>();
  try {
    await writeGguf(o.out, kvs, tensors, async (i) => {
      if (i >= entries.length) return GGML_TYPES.F32.quantize(arch.extraTensors[i - entries.length].values);
      const e = entries[i];
      const reader = readers.get(e.file) ?? (await openSafetensors(e.file));
      readers.set(e.file, reader);
      const replaced = adapter?.saved.get(e.hfName) ?? adapter?.saved.get(`transformer.${e.hfName}`);
      let values = toFloat32(replaced ?? (await reader.readTensor(e.hfName)), e.hfName);
      const [rows, cols] = rowsCols(e.shape, e.rule);
      if (e.rule.transpose) values = transposeMatrix(values, cols, rows);
      const module = adapter && moduleOf(e.hfName, adapter.lora);
      if (module) addLora(values, adapter.lora.get(module)!, e.hfName);
      if (e.rule.ropeHeads) values = permuteRopeRows(values, rows, cols, e.rule.ropeHeads);
      return GGML_TYPES[tensors[i].type].quantize(values);
    });
  } finally {
    await Promise.all([...readers.values()].map((r) => r.close()));
  }
  return { arch: arch.arch, tensors: tensors.length, pre: tok.pre, adaptedModules: matched.size };
}

/** Every adapted module and saved tensor has a place in the GGUF, or the export is refused. */
function checkAllPlaced(adapter: AdapterParts, matched: ReadonlySet<string>, entries: readonly CheckpointEntry[], dir: string): void {
  const lost = [...adapter.lora.keys()].filter((p) => !matched.has(p));
  const names = new Set(entries.flatMap((e) => [e.hfName, `transformer.${e.hfName}`]));
  const lostSaved = [...adapter.saved.keys()].filter((n) => !names.has(n));
  if (lost.length || lostSaved.length) {
    const what = [...lost.map((p) => `${p} (LoRA)`), ...lostSaved];
    throw new InputFileError(dir, `${dir}: cannot export to GGUF: the adapter changes ${what.slice(0, 5).join(', ')}, which the GGUF model does not hold (a head tied to the embeddings, or a module of another model)`);
  }
}

/**
 * A GGUF LoRA adapter (convert_lora_to_gguf.py, llama-adapter.cpp): general.type "adapter",
 * adapter.type "lora", adapter.lora.alpha, and per adapted weight `NAME.lora_a` [in, r] and
 * `NAME.lora_b` [r, out] (GGUF dims). llama.cpp scales each pair by alpha / r with r read from
 * lora_b; where PEFT's s differs (rsLoRA, rank or alpha patterns) B is scaled by the ratio. B's rows
 * get Llama's Q/K permutation, as the base weight's do.
 */
async function writeAdapter(o: GgufExportOptions, arch: GgufArchitecture, entries: readonly CheckpointEntry[], adapter: AdapterParts, name: string): Promise<GgufExportSummary> {
  const dir = o.adapter!;
  if (adapter.saved.size) throw new InputFileError(dir, `${dir}: the adapter also trains whole tensors (modules_to_save: ${[...adapter.saved.keys()].slice(0, 3).join(', ')}), which a GGUF LoRA adapter cannot carry; export the merged model instead (leave out --adapter-only)`);
  const tensors: GgufTensorInfo[] = [];
  const parts: { f: LoraFactors; rule: GgufTensorRule; which: 'a' | 'b' }[] = [];
  const matched = new Set<string>();
  for (const e of entries) {
    const module = moduleOf(e.hfName, adapter.lora);
    if (!module) continue;
    matched.add(module);
    const f = adapter.lora.get(module)!;
    const names = { a: `${e.rule.name}.lora_a`, b: `${e.rule.name}.lora_b` };
    tensors.push({ name: names.a, dims: [f.inFeatures, f.r], type: ggufTensorType(o.type, names.a, [f.inFeatures, f.r]) });
    tensors.push({ name: names.b, dims: [f.r, f.outFeatures], type: ggufTensorType(o.type, names.b, [f.r, f.outFeatures]) });
    parts.push({ f, rule: e.rule, which: 'a' }, { f, rule: e.rule, which: 'b' });
  }
  checkAllPlaced(adapter, matched, entries, dir);
  const kvs: GgufKv[] = [
    ...generalKvs(arch.arch, name, o.type),
    { key: 'general.type', type: 'string', value: 'adapter' },
    { key: 'adapter.type', type: 'string', value: 'lora' },
    { key: 'adapter.lora.alpha', type: 'f32', value: adapter.alpha },
  ];
  await writeGguf(o.out, kvs, tensors, (i) => {
    const { f, rule, which } = parts[i];
    if (which === 'a') return GGML_TYPES[tensors[i].type].quantize(f.a);
    const ratio = f.scale / (adapter.alpha / f.r); // llama.cpp's scale is alpha / r
    let b = ratio === 1 ? f.b : f.b.map((v) => v * ratio);
    if (rule.ropeHeads) b = permuteRopeRows(b, f.outFeatures, f.r, rule.ropeHeads);
    return GGML_TYPES[tensors[i].type].quantize(b);
  });
  return { arch: arch.arch, tensors: tensors.length, adaptedModules: matched.size };
}
