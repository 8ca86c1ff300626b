// What a run will hold, estimated from config.json alone (nothing instantiated, so it works for a model
// that does not fit): the frozen base, adapters, gradients, optimiser state, the activations the forward
// pass keeps at the batch and length asked, and the logits, each placed where it lives (the wasm heap,
// or native memory outside it), against what the heap and the machine can hold. run-memory.ts counts
// the same parameters by building the model; this file serves the decoders (GPT-2, Llama, Qwen2,
// Mistral), memory-stacks.ts BERT and T5, memory-inference.ts eval and generate. Browser-safe: the
// limits come from the caller.
import { FrozenWeight } from '../engine/frozen.js';
import { QUANTIZE_MODES, type FrozenFormat, type QuantizeMode } from '../quant/formats.js';
import type { LlamaConfig, ModelConfig } from '../io/hf-config.js';
import { PEFT_LORA_TARGETS } from '../adapters/peft-targets.js';
import { usesAdapters, type MethodName } from './methods.js';
import type { ModelCounts } from './run-memory.js';

/** Weight storage formats: float formats as a checkpoint stores them, and --quantize's block formats (quant/formats.ts's table). */
export type WeightFormat = FrozenFormat;
export type QuantizeOption = QuantizeMode;
export const QUANTIZE_OPTIONS: readonly QuantizeOption[] = QUANTIZE_MODES;

/** Bytes of a frozen [rows, cols] weight held in `format` (the frozen tier's own table, engine/frozen.ts). */
export function frozenWeightBytes(format: WeightFormat, rows: number, cols: number): number {
  return FrozenWeight.bytesFor(format, rows, cols);
}

/** The wasm backend's heap ceiling: tfjs-backend-wasm 4.22's getHeapMax() (65,536 pages less one: 4 GiB − 64 KiB). */
export const WASM_HEAP_MAX = 4294901760;
/** Node, TF.js, the wasm module and the native engine before any tensor (measured ~0.25–0.4 GB RSS). */
export const RUNTIME_BYTES = 400 * 2 ** 20;

/** One linear layer of a block: its path inside the block ("self_attn.q_proj"), [out, in]. */
export interface LinearShape {
  readonly path: string;
  readonly out: number;
  readonly in: number;
  readonly bias: boolean;
}

/** A decoder's shapes, read from its config. */
export interface DecoderShape {
  readonly arch: 'gpt2' | 'llama';
  readonly modelType: string;
  readonly hidden: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocab: number;
  readonly tied: boolean;
  /** GPT-2's learned positions (wpe rows); 0 for rotary models. */
  readonly positions: number;
  /** Block module path ("model.layers", "transformer.h") and the head's ("lm_head"). */
  readonly blockPrefix: string;
  readonly blockLinears: readonly LinearShape[];
  /** Parameters of a block that are not in its linear layers (norms). */
  readonly blockOtherParams: number;
  /** The final norm's parameters. */
  readonly finalNormParams: number;
}

/** The decoder shape of `config`, or undefined for another model (BERT and T5: memory-stacks.ts modelShape). */
export function decoderShape(config: ModelConfig): DecoderShape | undefined {
  if (config.modelType === 'gpt2') {
    const C = config.nEmbd;
    const I = config.nInner;
    return {
      arch: 'gpt2', modelType: 'gpt2', hidden: C, intermediate: I, layers: config.nLayer, heads: config.nHead, kvHeads: config.nHead, headDim: C / config.nHead,
      vocab: config.vocabSize, tied: config.tieWordEmbeddings, positions: config.nPositions, blockPrefix: 'transformer.h',
      blockLinears: [
        { path: 'attn.c_attn', out: 3 * C, in: C, bias: true },
        { path: 'attn.c_proj', out: C, in: C, bias: true },
        { path: 'mlp.c_fc', out: I, in: C, bias: true },
        { path: 'mlp.c_proj', out: C, in: I, bias: true },
      ],
      blockOtherParams: 4 * C, // ln_1, ln_2 weight and bias
      finalNormParams: 2 * C,
    };
  }
  if (config.modelType === 'llama' || config.modelType === 'qwen2' || config.modelType === 'mistral') {
    const c = config as LlamaConfig;
    const d = c.hiddenSize;
    const q = c.numAttentionHeads * c.headDim;
    const kv = c.numKeyValueHeads * c.headDim;
    const I = c.intermediateSize;
    return {
      arch: 'llama', modelType: c.modelType, hidden: d, intermediate: I, layers: c.numHiddenLayers, heads: c.numAttentionHeads, kvHeads: c.numKeyValueHeads, headDim: c.headDim,
      vocab: c.vocabSize, tied: c.tieWordEmbeddings, positions: 0, blockPrefix: 'model.layers',
      blockLinears: [
        { path: 'self_attn.q_proj', out: q, in: d, bias: c.qkvBias },
        { path: 'self_attn.k_proj', out: kv, in: d, bias: c.qkvBias },
        { path: 'self_attn.v_proj', out: kv, in: d, bias: c.qkvBias },
        { path: 'self_attn.o_proj', out: d, in: q, bias: c.oBias },
        { path: 'mlp.gate_proj', out: I, in: d, bias: c.mlpBias },
        { path: 'mlp.up_proj', out: I, in: d, bias: c.mlpBias },
        { path: 'mlp.down_proj', out: d, in: I, bias: c.mlpBias },
      ],
      blockOtherParams: 2 * d, // input_layernorm, post_attention_layernorm
      finalNormParams: d,
    };
  }
  return undefined;
}

/** Whether adapter targets select the block layer at `path` (PEFT's rules: a name matches the path or its last parts; a regex the whole path). */
export function targeted(targets: readonly string[] | string, shape: Pick<DecoderShape, 'modelType' | 'blockPrefix'>, path: string): boolean {
  if (targets === 'all-linear') return true;
  const list = targets === 'peft' ? PEFT_LORA_TARGETS[shape.modelType] ?? [] : targets;
  if (typeof list === 'string') return new RegExp(`^(?:${list})$`).test(`${shape.blockPrefix}.0.${path}`);
  return list.some((t) => path === t || path.endsWith(`.${t}`));
}

/** One run's settings, as far as memory goes. */
export interface MemoryRequest {
  readonly method: MethodName;
  readonly rank: number;
  readonly targetModules: readonly string[] | string;
  readonly task: 'causal-lm' | 'sequence-classification';
  readonly numLabels?: number;
  readonly quantize: QuantizeOption;
  readonly batchSize: number;
  readonly maxLength: number;
  readonly gradientCheckpointing: boolean;
  /** How the checkpoint stores its weights (its safetensors dtype). */
  readonly checkpointFormat: 'f32' | 'bf16' | 'f16';
  /** The native engine's frozen tier holds the frozen base outside the wasm heap (adapter methods only). */
  readonly frozenTier: boolean;
  /** LoRA-Pro full mode's m×n moments live outside the wasm heap. */
  readonly momentsOutsideHeap?: boolean;
  /** Dropout on the adapters' input (--lora-dropout); default 0. */
  readonly loraDropout?: number;
}

export type Place = 'heap' | 'native';

/** One line of the estimate. */
export interface MemoryPart {
  readonly name: string;
  readonly bytes: number;
  readonly place: Place;
  readonly note?: string;
}

export interface MemoryEstimate {
  readonly request: MemoryRequest;
  readonly parts: readonly MemoryPart[];
  /** Peak bytes live on the wasm heap. */
  readonly heapBytes: number;
  /** Bytes outside the heap (frozen tier, moments). */
  readonly nativeBytes: number;
  /** The process at its peak: heap + native + the runtime. */
  readonly processBytes: number;
  readonly counts: ModelCounts;
}

/** Parameter counts of `shape` with rank-`rank` adapters on the targeted layers (run-memory's ModelCounts, from config). */
export function countsFromShape(shape: DecoderShape, o: { rank: number; targetModules: readonly string[] | string; task: MemoryRequest['task']; numLabels?: number }): ModelCounts & { readonly maxAdaptedWeight: number } {
  const { hidden: d, vocab: V, layers: L } = shape;
  const blockLinear = shape.blockLinears.reduce((n, l) => n + l.out * l.in + (l.bias ? l.out : 0), 0);
  const head = o.task === 'causal-lm' ? (shape.tied ? 0 : V * d) : (o.numLabels ?? 2) * d;
  const totalParams = V * d + shape.positions * d + L * (blockLinear + shape.blockOtherParams) + shape.finalNormParams + head;
  const adapted = shape.blockLinears.filter((l) => targeted(o.targetModules, shape, l.path));
  const r = o.rank;
  return {
    totalParams,
    adapterParams: L * adapted.reduce((n, l) => n + r * (l.in + l.out), 0),
    headParams: o.task === 'sequence-classification' ? head : 0,
    adaptedWeightParams: L * adapted.reduce((n, l) => n + l.out * l.in, 0),
    adaptedLayers: L * adapted.length,
    adapterAParams: L * adapted.reduce((n, l) => n + r * l.in, 0),
    adaptedOutputs: L * adapted.reduce((n, l) => n + l.out, 0),
    maxAdaptedWeight: Math.max(0, ...adapted.map((l) => l.out * l.in)),
  };
}

/**
 * Float32 values one block keeps for the backward pass, per token, with the project's kernels (what
 * each op's gradient saves; engine/shape-grads.ts: sums and reshapes save nothing):
 * - each norm keeps x̂; its output is kept by the layers reading it when their weight is on the heap
 *   (a product keeps both inputs) or they carry an adapter (x for dA), not by a bare frozen-tier product;
 * - attention keeps q (rotated), k and v and computes the probabilities again (models/attention.ts),
 *   rotary embeddings keep only their tables; the heads' output is o_proj's input;
 * - Llama's MLP keeps gate and up (silu's gradient); down_proj's input silu(gate)·up too, unless a
 *   frozen-tier down_proj makes it again from them (LoraLinear.forwardRemade); GPT-2's keeps gelu's
 *   input and σ, and c_proj's input;
 * - each LoRA layer keeps x·(s·A)ᵀ; with LoRA dropout, its dropped-out input and the dropout's mask.
 * Checked against the heap meter in memory-estimate.test.ts.
 */
function blockActivations(shape: DecoderShape, adapted: ReadonlySet<string>, rank: number, frozen: boolean, loraDropout: number): number {
  const d = shape.hidden;
  const q = shape.heads * shape.headDim;
  const kv = shape.kvHeads * shape.headDim;
  const I = shape.intermediate;
  const dropout = loraDropout > 0 && adapted.size > 0;
  const keepsInput = (...paths: string[]) => !frozen || dropout || paths.some((p) => adapted.has(p));
  const lora = rank * adapted.size + (dropout ? 2 * shape.blockLinears.filter((l) => adapted.has(l.path)).reduce((n, l) => n + l.in, 0) : 0);
  // GPT-2, all on the heap: two norms' x̂ and output, q k v, the heads' output, gelu's x and σ, c_proj's input
  if (shape.arch === 'gpt2') return 4 * d + 3 * d + d + 2 * I + I + lora;
  return (
    2 * d + // the norms' x̂
    (keepsInput('self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj') ? d : 0) +
    q + 2 * kv +
    (keepsInput('self_attn.o_proj') ? q : 0) +
    (keepsInput('mlp.gate_proj', 'mlp.up_proj') ? d : 0) +
    2 * I +
    (!frozen || dropout ? I : 0) +
    lora
  );
}

/**
 * Float32 values per token live at once in one block's backward pass, beyond what blocks keep: the
 * attention probabilities made again with their two gradients (3 × heads × S) beside q, k, v's
 * gradients, or the MLP's [T, I] gradients (three at once).
 */
function blockBackward(shape: DecoderShape, keys: number): number {
  const q = shape.heads * shape.headDim;
  const kv = shape.kvHeads * shape.headDim;
  return Math.max(3 * shape.heads * keys + 2 * q + 2 * kv, 3 * shape.intermediate);
}

/** Where the frozen base lives and what it weighs: the frozen tier's formats outside the heap, else float32 on the heap. */
export function baseParts(shape: DecoderShape, counts: ModelCounts, request: Pick<MemoryRequest, 'quantize' | 'checkpointFormat' | 'frozenTier' | 'task'>): MemoryPart[] {
  const { hidden: d, vocab: V, layers: L } = shape;
  if (!request.frozenTier) {
    return [{ name: 'base: every weight', bytes: counts.totalParams * 4, place: 'heap', note: request.quantize === 'none' ? 'f32' : `f32 (--quantize ${request.quantize} needs the native engine's frozen tier)` }];
  }
  const linearFormat: WeightFormat = request.quantize === 'none' ? request.checkpointFormat : request.quantize;
  const linears = L * shape.blockLinears.reduce((n, l) => n + frozenWeightBytes(linearFormat, l.out, l.in), 0);
  const embed = frozenWeightBytes(request.checkpointFormat, V + shape.positions, d);
  const head = request.task === 'causal-lm' && !shape.tied ? frozenWeightBytes(request.checkpointFormat, V, d) : 0;
  const onHeap = L * (shape.blockOtherParams + shape.blockLinears.reduce((n, l) => n + (l.bias ? l.out : 0), 0)) + shape.finalNormParams + counts.headParams;
  return [
    { name: 'base: block linear weights', bytes: linears, place: 'native', note: linearFormat },
    { name: 'base: embeddings and LM head', bytes: embed + head, place: 'native', note: request.checkpointFormat },
    { name: 'base: norms, biases, head', bytes: onHeap * 4, place: 'heap', note: 'f32' },
  ];
}

/** What training adds to the base whatever the architecture: adapters, gradients and optimiser state of `request.method`. */
export function trainedStateParts(counts: ModelCounts, request: Pick<MemoryRequest, 'method' | 'rank' | 'momentsOutsideHeap'> & { readonly maxAdaptedWeight?: number }): MemoryPart[] {
  const { method } = request;
  const F = 4;
  const adapters = usesAdapters(method);
  const parts: MemoryPart[] = [];
  const add = (name: string, bytes: number, place: Place, note?: string) => parts.push({ name, bytes, place, note });
  const dora = method === 'dora' ? counts.adaptedOutputs : 0;
  const trainable = adapters ? counts.adapterParams + counts.headParams + dora - (method === 'lora-fa' ? counts.adapterAParams : 0) : counts.totalParams;
  if (adapters) add('adapters', (counts.adapterParams + dora) * F, 'heap', `r ${request.rank} on ${counts.adaptedLayers} layers`);
  add('gradients', trainable * F, 'heap');
  if (method === 'lora-pro') {
    add('optimizer: m×n Adam moments', 2 * (counts.adaptedWeightParams + counts.headParams) * F, request.momentsOutsideHeap ? 'native' : 'heap', 'two float32 m×n per adapted layer');
    add('optimizer step: one layer\'s m×n temporaries', 4 * (request.maxAdaptedWeight ?? 0) * F, 'heap');
  } else if (method === 'lora-pro-sgd') {
    add('optimizer state', 0, 'heap', 'none without momentum');
  } else {
    add('optimizer: Adam moments', 2 * trainable * F, 'heap');
  }
  return parts;
}

/**
 * The estimate for `request` on the model `shape` describes.
 *
 * @example
 *   const est = estimateMemory(decoderShape(config)!, { method: 'lora', rank: 8, targetModules: 'all-linear', task: 'causal-lm', quantize: 'nf4', batchSize: 1, maxLength: 128, gradientCheckpointing: true, checkpointFormat: 'bf16', frozenTier: true });
 */
export function estimateMemory(shape: DecoderShape, request: MemoryRequest): MemoryEstimate {
  const { method, rank, batchSize: B, maxLength: T } = request;
  const counts = countsFromShape(shape, request);
  const adapters = usesAdapters(method);
  const F = 4;
  const parts: MemoryPart[] = [];
  const add = (name: string, bytes: number, place: Place, note?: string) => parts.push({ name, bytes, place, note });

  const { hidden: d, vocab: V, layers: L } = shape;
  const tier = adapters && request.frozenTier;
  parts.push(...baseParts(shape, counts, { ...request, frozenTier: tier }));
  parts.push(...trainedStateParts(counts, { ...request, maxAdaptedWeight: counts.maxAdaptedWeight }));

  // activations at B × T
  const adapted = new Set(adapters ? shape.blockLinears.filter((l) => targeted(request.targetModules, shape, l.path)).map((l) => l.path) : []);
  const block = B * T * blockActivations(shape, adapted, rank, tier, request.loraDropout ?? 0) * F;
  const backward = B * T * blockBackward(shape, T) * F;
  // DoRA's row norms ‖W0 + s·B·A‖ are detached: one layer's m×n sum and product at a time
  if (method === 'dora') add('DoRA: one layer\'s W0 + s·B·A', 2 * counts.maxAdaptedWeight * F, 'heap');
  if (request.gradientCheckpointing) {
    add('activations: each block\'s input', L * B * T * d * F, 'heap');
    // the recomputed block's tape is freed as its backward pass walks it (engine/tape.ts): the larger of the two, with dy and dx
    add('activations: one block recomputed, and its backward pass', Math.max(block, backward) + 2 * B * T * d * F, 'heap');
  } else {
    add(`activations: ${L} blocks kept, one block's backward pass`, L * block + backward, 'heap');
  }
  const outputs = request.task === 'causal-lm' ? V : request.numLabels ?? 2;
  if (request.task === 'causal-lm' && request.frozenTier) {
    // a frozen head's loss goes chunk by chunk (models/heads.ts chunkedCausalLmLoss): 2^24 logits a chunk
    const rows = Math.min(B * T, Math.max(1, Math.floor(2 ** 24 / V)));
    add('logits, softmax and their gradients', (5 * rows * V + 2 * B * T * d) * F, 'heap', `in chunks of ${rows} rows of ${V}, never all ${B}·${T} at once`);
  } else {
    add('logits, softmax and their gradients', 5 * B * T * outputs * F, 'heap', `${B}·${T}·${outputs} float32, five at the peak (measured)`);
  }

  const heapBytes = parts.filter((p) => p.place === 'heap').reduce((n, p) => n + p.bytes, 0);
  const nativeBytes = parts.filter((p) => p.place === 'native').reduce((n, p) => n + p.bytes, 0);
  return { request, parts, heapBytes, nativeBytes, processBytes: heapBytes + nativeBytes + RUNTIME_BYTES, counts };
}

/** What a run can use: the wasm heap's ceiling (Infinity on the cpu backend) and the machine's available memory. */
export interface MemoryLimits {
  readonly heapBytes: number;
  readonly machineBytes: number;
}

/**
 * The share of the wasm heap an estimate may fill: a margin for what it leaves out (the allocator's
 * fragmentation, short-lived temporaries). Each block's activations are held within 10 % of the heap
 * meter (memory-estimate.test.ts); at the Llama-3.2-1B shape, lora at 4 × 256 was estimated at a 5.03 GiB
 * process and measured at 5.12 GiB peak RSS (`npm run bench:scale`, 2026-12-06).
 */
export const HEAP_USABLE = 0.8;

/** The limits `est` exceeds, each as one line; empty when it fits. */
export function memoryProblems(est: Pick<MemoryEstimate, 'heapBytes' | 'processBytes'>, limits: MemoryLimits): string[] {
  const out: string[] = [];
  const usable = HEAP_USABLE * limits.heapBytes;
  if (est.heapBytes > usable) out.push(`the wasm heap needs ${gib(est.heapBytes)} by the estimate, over the ${gib(usable)} it allows itself of the heap's ${gib(limits.heapBytes)} ceiling`);
  if (est.processBytes > limits.machineBytes) out.push(`the process needs ${gib(est.processBytes)}, the machine has ${gib(limits.machineBytes)} available`);
  return out;
}

/** The changes to `request` that would make it fit, each with its estimate ("--quantize nf4: heap 2.1 GiB, process 3.0 GiB"). */
export function waysOut(shape: DecoderShape, request: MemoryRequest, limits: MemoryLimits): string[] {
  return waysOutOf((r) => estimateMemory(shape, r), request, limits);
}

/** waysOut for any model `estimate` covers; a change that saves nothing there (checkpointing an encoder) is not offered. */
export function waysOutOf(estimate: (request: MemoryRequest) => MemoryEstimate, request: MemoryRequest, limits: MemoryLimits): string[] {
  const asked = estimate(request);
  const saves = (change: Partial<MemoryRequest>) => estimate({ ...request, ...change }).processBytes < asked.processBytes;
  const candidates: [string, Partial<MemoryRequest>][] = [];
  if (usesAdapters(request.method) && request.frozenTier && request.quantize !== 'nf4' && request.quantize !== 'nf4-dq') candidates.push(['--quantize nf4', { quantize: 'nf4' }]);
  if (!request.gradientCheckpointing) candidates.push(['--gradient-checkpointing', { gradientCheckpointing: true }]);
  if (request.method === 'lora-pro') candidates.push(['--method lora-pro-efficient', { method: 'lora-pro-efficient' }]);
  if (request.method === 'full') candidates.push(['--method lora', { method: 'lora' }]);
  for (let b = Math.floor(request.batchSize / 2); b >= 1; b = Math.floor(b / 2)) {
    candidates.push([`--batch-size ${b} (and --grad-accum ${Math.ceil(request.batchSize / b)} for the same batch)`, { batchSize: b }]);
    if (b === 1) break;
  }
  if (request.maxLength > 64) candidates.push([`--max-length ${Math.max(64, Math.floor(request.maxLength / 2))}`, { maxLength: Math.max(64, Math.floor(request.maxLength / 2)) }]);
  // every candidate alone, then all the memory savers together
  const all: Partial<MemoryRequest> = Object.assign({}, ...candidates.filter(([flag, c]) => !flag.startsWith('--batch-size') && !flag.startsWith('--max-length') && saves(c)).map(([, c]) => c), { batchSize: 1 });
  candidates.push([`all of: ${describe(all)}`, all]);
  const lines: string[] = [];
  for (const [flag, change] of candidates) {
    const est = estimate({ ...request, ...change });
    if (memoryProblems(est, limits).length === 0) lines.push(`${flag}: heap ${gib(est.heapBytes)}, process ${gib(est.processBytes)}`);
  }
  return lines;
}

function describe(change: Partial<MemoryRequest>): string {
  const flags: string[] = [];
  if (change.quantize) flags.push(`--quantize ${change.quantize}`);
  if (change.gradientCheckpointing) flags.push('--gradient-checkpointing');
  if (change.method) flags.push(`--method ${change.method}`);
  if (change.batchSize) flags.push(`--batch-size ${change.batchSize}`);
  return flags.join(' ');
}

/** Bytes as GiB with two decimals (MiB below one GiB). */
export function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** The estimate as lines: one per part, then the totals against the limits. */
export function estimateLines(est: MemoryEstimate, limits: MemoryLimits): string[] {
  const r = est.request;
  const head = `memory estimate: ${r.method}, batch ${r.batchSize} × ${r.maxLength} tokens, ${r.gradientCheckpointing ? 'gradient checkpointing' : 'activations kept'}, base ${r.quantize === 'none' ? r.checkpointFormat : r.quantize}${r.frozenTier && usesAdapters(r.method) ? ' outside the wasm heap (native frozen tier)' : ' float32 on the wasm heap'}`;
  return [head, ...partLines(est, limits)];
}

/** One line per part that holds anything, then the totals against the limits. */
export function partLines(est: Pick<MemoryEstimate, 'parts' | 'heapBytes' | 'nativeBytes' | 'processBytes'>, limits: MemoryLimits): string[] {
  const width = Math.max(...est.parts.map((p) => p.name.length));
  const rows = est.parts.filter((p) => p.bytes > 0).map((p) => `  ${p.name.padEnd(width)}  ${gib(p.bytes).padStart(10)}  ${p.place === 'heap' ? 'wasm heap' : 'native'}${p.note ? `  (${p.note})` : ''}`);
  const heapLimit = Number.isFinite(limits.heapBytes) ? ` of ${gib(limits.heapBytes)}` : '';
  return [
    ...rows,
    `  wasm heap at its peak: ${gib(est.heapBytes)}${heapLimit}; outside it: ${gib(est.nativeBytes)}; process: ${gib(est.processBytes)} (with ${gib(RUNTIME_BYTES)} of runtime) of ${gib(limits.machineBytes)} available`,
  ];
}
