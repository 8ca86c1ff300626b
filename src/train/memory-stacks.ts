// The memory estimate of the models memory-estimate.ts does not shape: BERT / RoBERTa encoders and the
// T5 encoder-decoder, from config.json alone. They never use the frozen tier (their layers are plain
// heap Linears), so the whole base is float32 on the wasm heap. What their forward pass keeps for the
// backward pass is counted kernel by kernel from the model code (models/bert.ts, t5-layers.ts): a
// linear layer's matMul saves its input (its reshape, bias add and the residual adds save nothing,
// engine/shape-grads.ts), attention keeps its transposed q, k and v (not its probabilities), a
// LayerNorm / RMSNorm its x̂, and each activation what its gradient reads.
import type { BertConfig, ModelConfig, T5Config } from '../io/hf-config.js';
import { decoderShape, countsFromShape, estimateMemory, RUNTIME_BYTES, targeted, trainedStateParts, type DecoderShape, type LinearShape, type MemoryEstimate, type MemoryPart, type MemoryRequest } from './memory-estimate.js';
import { usesAdapters } from './methods.js';
import type { ModelCounts } from './run-memory.js';

/** One stack of blocks: BERT's encoder.layer, T5's encoder.block or decoder.block. */
export interface StackPart {
  readonly prefix: string;
  readonly layers: number;
  readonly linears: readonly LinearShape[];
  /** Norm parameters of a block. */
  readonly otherParams: number;
  /** T5's decoder blocks attend over the encoder output as well. */
  readonly cross: boolean;
}

/** An encoder (BERT, RoBERTa) or encoder-decoder (T5), read from its config. */
export interface StackShape {
  readonly arch: 'bert' | 't5';
  readonly modelType: string;
  readonly hidden: number;
  readonly intermediate: number;
  readonly heads: number;
  /** Heads × head size: BERT's hidden size, T5's num_heads · d_kv. */
  readonly inner: number;
  readonly vocab: number;
  readonly stacks: readonly StackPart[];
  /** Embeddings, position tables, norms outside the blocks, T5's untied lm_head. */
  readonly fixedParams: number;
  /** Linear layers outside the blocks that adapters may target (BERT's pooler.dense), by full path. */
  readonly extraLinears: readonly LinearShape[];
  /** Parameters of the classification head trained in full beside adapters, for `numLabels`. */
  headParams(numLabels: number): number;
  /** Float32 values per intermediate unit the feed-forward keeps for its gradient, its output included. */
  readonly ffSaved: number;
  /** The same in a forward without the tape, at its peak (an activation's temporaries). */
  readonly ffPeak: number;
}

/** A shape the estimate covers: a decoder (memory-estimate.ts) or an encoder / encoder-decoder (here). */
export type ModelShape = DecoderShape | StackShape;

export function isDecoderShape(shape: ModelShape): shape is DecoderShape {
  return shape.arch === 'gpt2' || shape.arch === 'llama';
}

/**
 * Values per unit an activation's gradient saves (layers.ts, tfjs-core's gradients), its input
 * included: exact gelu's x, x/√2, x/2 and 1 + erf (its Muls and Erf); gelu_new's x and σ(2u); silu's x
 * and σ(x); relu's x; tanh nothing but its output. And the peak of its temporaries without the tape.
 */
const ACTIVATION_SAVES: Readonly<Record<string, { saved: number; peak: number }>> = {
  gelu: { saved: 4, peak: 5 },
  gelu_new: { saved: 2, peak: 2 },
  gelu_pytorch_tanh: { saved: 2, peak: 2 },
  gelu_fast: { saved: 2, peak: 2 },
  silu: { saved: 2, peak: 2 },
  swish: { saved: 2, peak: 2 },
  relu: { saved: 1, peak: 1 },
  tanh: { saved: 0, peak: 1 },
};

function activationSaves(name: string): { saved: number; peak: number } {
  return ACTIVATION_SAVES[name] ?? ACTIVATION_SAVES.gelu; // the costliest, for an activation this table lacks
}

function bertShape(c: BertConfig): StackShape {
  const d = c.hiddenSize;
  const I = c.intermediateSize;
  const roberta = c.modelType === 'roberta';
  const act = activationSaves(c.hiddenAct);
  return {
    arch: 'bert', modelType: c.modelType, hidden: d, intermediate: I, heads: c.numAttentionHeads, inner: d, vocab: c.vocabSize,
    stacks: [{
      prefix: `${c.modelType}.encoder.layer`, layers: c.numHiddenLayers, cross: false, otherParams: 4 * d, // two LayerNorms
      linears: [
        { path: 'attention.self.query', out: d, in: d, bias: true },
        { path: 'attention.self.key', out: d, in: d, bias: true },
        { path: 'attention.self.value', out: d, in: d, bias: true },
        { path: 'attention.output.dense', out: d, in: d, bias: true },
        { path: 'intermediate.dense', out: I, in: d, bias: true },
        { path: 'output.dense', out: d, in: I, bias: true },
      ],
    }],
    fixedParams: (c.vocabSize + c.maxPositionEmbeddings + c.typeVocabSize) * d + 2 * d,
    // RoBERTa's classifier.{dense, out_proj} is the head; BERT's pooler.dense is a plain linear layer that 'all-linear' adapts
    extraLinears: roberta ? [] : [{ path: 'bert.pooler.dense', out: d, in: d, bias: true }],
    headParams: (n) => n * d + n + (roberta ? d * d + d : 0),
    ffSaved: act.saved + 1, // the activation's saves and its output, the input of output.dense
    ffPeak: act.peak + 1, // the dense output, then the activation's temporaries
  };
}

function t5Shape(c: T5Config): StackShape {
  const d = c.dModel;
  const inner = c.numHeads * c.dKv;
  const F = c.dFf;
  const act = activationSaves(c.denseActFn);
  const attention = (name: string, layer: number): LinearShape[] => ['q', 'k', 'v'].map((p) => ({ path: `layer.${layer}.${name}.${p}`, out: inner, in: d, bias: false })).concat({ path: `layer.${layer}.${name}.o`, out: d, in: inner, bias: false });
  const ff = (layer: number): LinearShape[] => [
    ...(c.isGatedAct ? ['wi_0', 'wi_1'] : ['wi']).map((p) => ({ path: `layer.${layer}.DenseReluDense.${p}`, out: F, in: d, bias: false })),
    { path: `layer.${layer}.DenseReluDense.wo`, out: d, in: F, bias: false },
  ];
  return {
    arch: 't5', modelType: 't5', hidden: d, intermediate: F, heads: c.numHeads, inner, vocab: c.vocabSize,
    stacks: [
      { prefix: 'encoder.block', layers: c.numLayers, cross: false, otherParams: 2 * d, linears: [...attention('SelfAttention', 0), ...ff(1)] },
      { prefix: 'decoder.block', layers: c.numDecoderLayers, cross: true, otherParams: 3 * d, linears: [...attention('SelfAttention', 0), ...attention('EncDecAttention', 1), ...ff(2)] },
    ],
    // shared, two relative-position tables, two final norms, and lm_head when untied
    fixedParams: c.vocabSize * d * (c.tieWordEmbeddings ? 1 : 2) + 2 * c.relativeAttentionNumBuckets * c.numHeads + 2 * d,
    extraLinears: [],
    headParams: () => 0, // text-to-text: the label is generated, no head
    // gated: the activation's saves, its output and wi_1's (both read by the product), the product (read by wo)
    ffSaved: c.isGatedAct ? act.saved + 3 : act.saved + 1,
    ffPeak: c.isGatedAct ? act.peak + 3 : act.peak + 1,
  };
}

/** The shape of any model the estimate covers, or undefined. */
export function modelShape(config: ModelConfig): ModelShape | undefined {
  if (config.modelType === 'bert' || config.modelType === 'roberta') return bertShape(config as BertConfig);
  if (config.modelType === 't5') return t5Shape(config as T5Config);
  return decoderShape(config);
}

/** The linear layers of one of `part`'s blocks that `targets` adapt. */
function adaptedIn(shape: StackShape, part: StackPart, targets: readonly string[] | string): LinearShape[] {
  return part.linears.filter((l) => targeted(targets, { modelType: shape.modelType, blockPrefix: part.prefix }, l.path));
}

/** Parameter counts of `shape` with rank-`rank` adapters on the targeted layers (run-memory's ModelCounts, from config). */
export function countsFromStack(shape: StackShape, o: { rank: number; targetModules: readonly string[] | string; numLabels?: number }): ModelCounts & { readonly maxAdaptedWeight: number } {
  const size = (l: LinearShape) => l.out * l.in + (l.bias ? l.out : 0);
  const head = shape.headParams(o.numLabels ?? 2);
  const blocks = shape.stacks.reduce((n, s) => n + s.layers * (s.linears.reduce((m, l) => m + size(l), 0) + s.otherParams), 0);
  const adapted = [
    ...shape.stacks.flatMap((s) => Array.from({ length: s.layers }, () => adaptedIn(shape, s, o.targetModules)).flat()),
    ...shape.extraLinears.filter((l) => o.targetModules === 'all-linear' || targeted(o.targetModules, { modelType: shape.modelType, blockPrefix: '' }, l.path)),
  ];
  const r = o.rank;
  return {
    totalParams: shape.fixedParams + blocks + shape.extraLinears.reduce((n, l) => n + size(l), 0) + head,
    adapterParams: adapted.reduce((n, l) => n + r * (l.in + l.out), 0),
    headParams: head,
    adaptedWeightParams: adapted.reduce((n, l) => n + l.out * l.in, 0),
    adaptedLayers: adapted.length,
    adapterAParams: adapted.reduce((n, l) => n + r * l.in, 0),
    adaptedOutputs: adapted.reduce((n, l) => n + l.out, 0),
    maxAdaptedWeight: Math.max(0, ...adapted.map((l) => l.out * l.in)),
  };
}

/**
 * Float32 values one block keeps for the backward pass (module comment's rules): per token, the input
 * of the q/k/v products, q, k and v transposed (attention keeps them and computes its probabilities
 * again in the backward pass, models/attention.ts), the merged heads, each norm's x̂ and the normed
 * input of the next product, the feed-forward's saves and each LoRA layer's x·(s·A)ᵀ. A T5 decoder
 * block adds its cross-attention: per decoder token its norm, input, q and merged heads; per encoder
 * token the encoder's k and v. Nothing per (query, key) pair is kept: see stackBlockBackward.
 */
export function stackBlockActivations(shape: StackShape, part: StackPart, adaptedPerBlock: number, rank: number): { perToken: number; perSourceToken: number } {
  const { hidden: d, inner, intermediate: I } = shape;
  // BERT: the block's input (read by q/k/v), two x̂ and LayerNorm 1's output; T5: two x̂ and both norms' outputs
  const perToken = 4 * d + 4 * inner + shape.ffSaved * I + adaptedPerBlock * rank + (part.cross ? 2 * d + 2 * inner : 0);
  return { perToken, perSourceToken: part.cross ? 2 * inner : 0 };
}

/**
 * Float32 values one block's backward pass holds at once beyond what it kept, [heads, T, S] each: the
 * probabilities made again, their two gradients, the bias's (T5's learned position bias takes one from
 * every block), and the op-by-op softmax gradient's temporaries where the native kernels are off
 * (measured on wasm: ~6 at once).
 */
function stackBlockBackward(shape: StackShape, tokens: number, keys: number): number {
  return 6 * shape.heads * tokens * keys;
}

/** Tokens a T5 decoder reads when it trains or evaluates as a classifier: a label word and </s> (label targets are short). */
export const T5_TARGET_TOKENS = 4;

/**
 * The training estimate for `request` on an encoder or T5 (the whole base on the heap; no gradient
 * checkpointing, which only the decoders implement). T5 trains as a text-to-text classifier: its
 * decoder reads T5_TARGET_TOKENS target tokens per example.
 */
export function estimateStackMemory(shape: StackShape, request: MemoryRequest): MemoryEstimate {
  const { method, rank, batchSize: B, maxLength: T } = request;
  const counts = countsFromStack(shape, request);
  const F = 4;
  const parts: MemoryPart[] = [{ name: 'base: every weight', bytes: counts.totalParams * F, place: 'heap', note: request.quantize === 'none' ? 'f32' : `f32 (--quantize ${request.quantize} applies to the Llama family only)` }];
  parts.push(...trainedStateParts(counts, { ...request, maxAdaptedWeight: counts.maxAdaptedWeight }));
  if (method === 'dora') parts.push({ name: 'DoRA: one layer\'s W0 + s·B·A', bytes: 2 * counts.maxAdaptedWeight * F, place: 'heap' });
  const adapters = usesAdapters(method);
  const S = T;
  const Td = shape.arch === 't5' ? Math.min(T, T5_TARGET_TOKENS) : 0;
  let kept = 0;
  let largest = 0;
  for (const part of shape.stacks) {
    const a = stackBlockActivations(shape, part, adapters ? adaptedIn(shape, part, request.targetModules).length : 0, rank);
    const tokens = part.cross ? Td : T;
    const block = B * (tokens * a.perToken + S * a.perSourceToken) * F;
    kept += part.layers * block;
    largest = Math.max(largest, block, B * stackBlockBackward(shape, tokens, part.cross ? S : tokens) * F);
  }
  const stacks = shape.stacks.map((s) => `${s.layers}`).join(' + ');
  parts.push({ name: `activations: ${stacks} blocks kept, one block's gradients`, bytes: kept + largest + B * T * shape.hidden * 2 * F, place: 'heap', note: shape.arch === 't5' ? 'with the encoder output the decoder reads' : 'with the embeddings\' LayerNorm' });
  const logits = shape.arch === 't5' ? B * Td * shape.vocab : B * (request.numLabels ?? 2);
  parts.push({ name: 'logits, softmax and their gradients', bytes: 5 * logits * F, place: 'heap', note: shape.arch === 't5' ? `${B}·${Td}·${shape.vocab} float32: ${Td} target tokens an example` : undefined });
  return withTotals(request, parts, counts);
}

/** The estimate's totals over `parts`. */
export function withTotals<R>(request: R, parts: readonly MemoryPart[], counts: ModelCounts): Omit<MemoryEstimate, 'request'> & { readonly request: R } {
  const heapBytes = parts.filter((p) => p.place === 'heap').reduce((n, p) => n + p.bytes, 0);
  const nativeBytes = parts.filter((p) => p.place === 'native').reduce((n, p) => n + p.bytes, 0);
  return { request, parts, heapBytes, nativeBytes, processBytes: heapBytes + nativeBytes + RUNTIME_BYTES, counts };
}

/** The training estimate of any covered model. */
export function estimateRun(shape: ModelShape, request: MemoryRequest): MemoryEstimate {
  return isDecoderShape(shape) ? estimateMemory(shape, request) : estimateStackMemory(shape, request);
}

/** Parameter counts of any covered model, from its config. */
export function countsOf(shape: ModelShape, o: { rank: number; targetModules: readonly string[] | string; task: MemoryRequest['task']; numLabels?: number }): ModelCounts & { readonly maxAdaptedWeight: number } {
  return isDecoderShape(shape) ? countsFromShape(shape, o) : countsFromStack(shape, o);
}
