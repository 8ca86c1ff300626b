// What `eval` and `generate` will hold, from config.json alone: the base where a run puts it (the
// frozen tier or the heap, as train does for an adapter run), the adapter, and the activations of a
// forward pass without the tape. Without the tape nothing is kept for a backward pass, but a tf.tidy
// frees its tensors only when it ends: a stack's tidy holds every block's output until the last block
// has run, and a block's tidy holds its projections, transposed heads and (for one attention at a time)
// the scores [B, nH, T, S], their masked sum and softmax. Then the logits, and generate's KV cache.
import { baseParts, gib, memoryProblems, partLines, type DecoderShape, type MemoryLimits, type MemoryPart, type QuantizeOption } from './memory-estimate.js';
import { countsOf, isDecoderShape, T5_TARGET_TOKENS, withTotals, type ModelShape, type StackShape } from './memory-stacks.js';
import type { ModelCounts } from './run-memory.js';

/** One eval or generate run, as far as memory goes. */
export interface InferenceRequest {
  readonly command: 'eval' | 'generate';
  readonly task: 'causal-lm' | 'sequence-classification';
  readonly numLabels?: number;
  readonly quantize: QuantizeOption;
  readonly checkpointFormat: 'f32' | 'bf16' | 'f16';
  /** The base on the native engine's frozen tier (run-model.ts frozenTierFor), outside the heap. */
  readonly frozenTier: boolean;
  /** eval's --batch-size; generate runs one prompt. */
  readonly batchSize: number;
  /** eval: --max-length (batches are padded to their longest example, at most this); generate: the prompt's tokens. */
  readonly inputLength: number;
  /** generate's --max-new-tokens; 0 for eval. */
  readonly newTokens: number;
  /** The adapter's tensors as float32 on the heap (0 without one). */
  readonly adapterBytes: number;
  /** The native engine's fused softmax and SwiGLU: one temporary fewer per attention and per MLP. */
  readonly fused: boolean;
}

export interface InferenceEstimate {
  readonly request: InferenceRequest;
  readonly parts: readonly MemoryPart[];
  readonly heapBytes: number;
  readonly nativeBytes: number;
  readonly processBytes: number;
  readonly counts: ModelCounts;
}

/** Names of the parts that are activations (what the heap meter sees of a forward pass once the model is loaded). */
export const ACTIVATION_PARTS = /^(activations|KV cache)/;

const F = 4;

/**
 * Float32 values a decoder's forward holds at its peak, T new tokens over S keys, per row of the batch:
 * every block's output kept by the stack's tidy (and the embeddings'), the rotary tables and the mask,
 * and the larger of one block's two phases: attention (normed input; q, k, v as projected, transposed
 * and rotated; q scaled, the scores, their masked sum and softmax, the heads' output) and the MLP (the
 * block's four [T, d] so far; gate, up, the activation's temporary and the product, or GPT-2's fc output
 * with gelu's value and sigmoid).
 */
function decoderForward(shape: DecoderShape, T: number, S: number, fused: boolean, adapter: boolean): number {
  const { hidden: d, intermediate: I, layers: L, heads: nH } = shape;
  const q = nH * shape.headDim;
  const kv = shape.kvHeads * shape.headDim;
  const kept = (L + 1) * T * d + 2 * T * shape.headDim + T * S;
  const attention = T * (d + 5 * q + 5 * kv) + (fused ? 2 : 3) * nH * T * S;
  const mlpUnits = shape.arch === 'llama' ? (fused ? 3 : 4) : 3;
  // an adapted layer's base output, x·Aᵀ·Bᵀ and their sum live at once inside its forward: one [T, out] more
  const mlp = T * (4 * d + mlpUnits * I + (adapter ? I : 0));
  return kept + Math.max(attention, mlp);
}

/**
 * The same for one stack of an encoder or T5: T tokens (each attending over S of its own, and over
 * `source` encoder tokens in a T5 decoder), with BERT's and T5's layers (models/bert.ts, t5-layers.ts).
 * The encoder's bias [B, nH, S, S] (T5: position bias plus padding) lives through the whole stack.
 */
function stackForward(shape: StackShape, layers: number, T: number, source: number, fused: boolean): number {
  const { hidden: d, inner, heads: nH, intermediate: I } = shape;
  const scores = fused ? 2 : 3;
  const kept = (layers + 1) * T * d + (shape.arch === 't5' ? 2 * nH * T * T : T);
  const attention = T * (d + 8 * inner) + scores * nH * T * T;
  const cross = source > 0 ? 4 * inner * source + T * 4 * inner + scores * nH * T * source : 0; // the encoder's k and v, projected and transposed
  const ff = T * (2 * d) + shape.ffPeak * T * I;
  return kept + Math.max(attention, cross, ff);
}

function adapterPart(r: InferenceRequest): MemoryPart[] {
  return r.adapterBytes > 0 ? [{ name: 'adapter', bytes: r.adapterBytes, place: 'heap', note: 'float32' }] : [];
}

/**
 * The estimate of an eval or generate run of the model `shape` describes.
 *
 * @example
 *   const est = estimateInference(modelShape(config)!, { command: 'generate', task: 'causal-lm', quantize: 'nf4', checkpointFormat: 'bf16', frozenTier: true, batchSize: 1, inputLength: 12, newTokens: 256, adapterBytes: 0, fused: true });
 */
export function estimateInference(shape: ModelShape, request: InferenceRequest): InferenceEstimate {
  const counts = countsOf(shape, { rank: 1, targetModules: 'all-linear', task: request.task, numLabels: request.numLabels });
  const parts = isDecoderShape(shape) ? decoderParts(shape, counts, request) : stackParts(shape, counts, request);
  return withTotals(request, parts, counts);
}

function decoderParts(shape: DecoderShape, counts: ModelCounts, r: InferenceRequest): MemoryPart[] {
  const { batchSize: B, inputLength: T, newTokens } = r;
  const { hidden: d, vocab: V, layers: L } = shape;
  const parts = [...baseParts(shape, counts, r), ...adapterPart(r)];
  const adapter = r.adapterBytes > 0;
  // the stack's tidy has ended before the logits are made: only h [B·T, d] is left of the forward
  const forward = B * decoderForward(shape, T, T, r.fused, adapter);
  if (r.command === 'generate') {
    // the prompt runs at once over an empty cache; later steps run one token against the full cache
    // (KVCache.append concatenates: one layer's old and new keys and values live at once)
    const S = T + newTokens;
    const cache = (positions: number) => 2 * (L + 1) * B * shape.kvHeads * positions * shape.headDim;
    const prompt = Math.max(forward, B * T * (d + V)) + cache(T);
    const step = B * decoderForward(shape, 1, S, r.fused, adapter) + cache(S);
    parts.push({ name: 'KV cache', bytes: cache(S) * F, place: 'heap', note: `2 × ${L} layers × ${shape.kvHeads} heads × ${S} positions × ${shape.headDim}` });
    parts.push({ name: 'activations and logits beyond the cache', bytes: (Math.max(prompt, step) - cache(S)) * F, place: 'heap', note: `the prompt's ${T} tokens at once, or one token over ${S}` });
    return parts;
  }
  let logits = 0;
  let note = `a forward of ${B} × ${T} tokens`;
  if (r.task === 'causal-lm' && r.frozenTier) {
    const rows = Math.min(B * T, Math.max(1, Math.floor(2 ** 24 / V))); // chunkedCausalLmLoss's chunks
    logits = B * T * d + 2 * rows * V;
    note += `, or its logits and softmax in chunks of ${rows} rows of ${V}`;
  } else if (r.task === 'causal-lm') {
    logits = B * T * (d + 2 * V);
    note += `, or its ${B}·${T}·${V} logits and their softmax`;
  }
  parts.push({ name: 'activations and logits', bytes: Math.max(forward, logits) * F, place: 'heap', note: `the larger of ${note}` });
  return parts;
}

function stackParts(shape: StackShape, counts: ModelCounts, r: InferenceRequest): MemoryPart[] {
  const { batchSize: B, inputLength: T, newTokens } = r;
  const { hidden: d, vocab: V } = shape;
  const parts: MemoryPart[] = [{ name: 'base: every weight', bytes: counts.totalParams * F, place: 'heap', note: 'f32' }, ...adapterPart(r)];
  const [encoder, decoder] = shape.stacks;
  const encode = B * stackForward(shape, encoder.layers, T, 0, r.fused);
  if (decoder === undefined) {
    parts.push({ name: `activations: a forward of ${B} × ${T} tokens`, bytes: encode * F, place: 'heap', note: 'every block\'s output, one block\'s temporaries' });
    return parts;
  }
  if (r.command === 'generate') {
    // the encoder runs once; then each step one decoder token over cached keys and values (models/kv-cache.ts Seq2SeqCache)
    const cache = 2 * decoder.layers * B * shape.inner * (T + newTokens + 1);
    const step = B * (T * d + stackForward(shape, decoder.layers, 1, T + newTokens, r.fused) + V) + cache;
    parts.push({ name: 'KV cache', bytes: cache * F, place: 'heap', note: `self and cross attention: 2 × ${decoder.layers} layers × ${shape.inner} × (${T} + ${newTokens}) positions` });
    parts.push({ name: 'activations beyond the cache', bytes: (Math.max(encode, step) - cache) * F, place: 'heap', note: `the encoder over ${T} tokens, or one decoder step` });
    return parts;
  }
  // eval ranks the labels: the decoder reads each label's target for every example (models/t5-classifier.ts)
  const K = r.numLabels ?? 2;
  const L = T5_TARGET_TOKENS;
  const decode = B * K * (T * d + stackForward(shape, decoder.layers, L, T, r.fused)) + 2 * B * K * L * V;
  parts.push({ name: `activations: encoder (${B} × ${T}) or decoder (${B}·${K} labels × ${L})`, bytes: Math.max(encode, decode + B * T * d) * F, place: 'heap', note: 'the larger phase' });
  return parts;
}

/**
 * The changes that would make `request` fit, each with its estimate: the base quantized to nf4 (on the
 * frozen tier only), half the batch (eval), the longest --max-length (eval) or most --max-new-tokens
 * (generate) that fits, then these together.
 */
export function inferenceWaysOut(shape: ModelShape, request: InferenceRequest, limits: MemoryLimits): string[] {
  const fits = (r: InferenceRequest) => memoryProblems(estimateInference(shape, r), limits).length === 0;
  const quantize: Partial<InferenceRequest> = request.frozenTier && request.quantize !== 'nf4' ? { quantize: 'nf4' } : {};
  const candidates: [string, Partial<InferenceRequest>][] = quantize.quantize ? [['--quantize nf4', quantize]] : [];
  for (let b = Math.floor(request.batchSize / 2); b >= 1; b = Math.floor(b / 2)) candidates.push([`--batch-size ${b}`, { batchSize: b }]);
  for (const base of [{}, { ...quantize, batchSize: 1 }] as Partial<InferenceRequest>[]) {
    const length = longestThatFits(request.command === 'eval' ? 'inputLength' : 'newTokens', { ...request, ...base }, fits);
    if (length === undefined) continue;
    const flag = request.command === 'eval' ? `--max-length ${length.inputLength}` : `--max-new-tokens ${length.newTokens}`;
    const others = [base.quantize && `--quantize ${base.quantize}`, base.batchSize !== undefined && base.batchSize !== request.batchSize && `--batch-size ${base.batchSize}`].filter(Boolean);
    candidates.push([others.length > 0 ? `all of: ${[...others, flag].join(' ')} (the most that fits)` : `${flag} (the most that fits)`, { ...base, ...length }]);
  }
  const lines: string[] = [];
  for (const [flag, change] of candidates) {
    const est = estimateInference(shape, { ...request, ...change });
    if (memoryProblems(est, limits).length === 0) lines.push(`${flag}: heap ${gib(est.heapBytes)}, process ${gib(est.processBytes)}`);
  }
  return lines;
}

/** The largest value of `field` below the request's that fits (the estimate grows with it), by bisection; undefined when even 1 does not. */
function longestThatFits(field: 'inputLength' | 'newTokens', request: InferenceRequest, fits: (r: InferenceRequest) => boolean): Partial<InferenceRequest> | undefined {
  let [lo, hi] = [field === 'inputLength' ? 2 : 1, request[field] - 1];
  if (hi < lo || !fits({ ...request, [field]: lo })) return undefined;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits({ ...request, [field]: mid })) lo = mid;
    else hi = mid - 1;
  }
  return { [field]: lo };
}

/** The estimate as lines: one per part, then the totals against the limits. */
export function inferenceLines(est: InferenceEstimate, limits: MemoryLimits): string[] {
  const r = est.request;
  const what = r.command === 'generate' ? `a ${r.inputLength}-token prompt and ${r.newTokens} new tokens` : `batch ${r.batchSize} × ${r.inputLength} tokens`;
  const base = `base ${r.quantize === 'none' ? r.checkpointFormat : r.quantize}${r.frozenTier ? ' outside the wasm heap (native frozen tier)' : ' float32 on the wasm heap'}`;
  return [`memory estimate: ${r.command}, ${what}, ${base}`, ...partLines(est, limits)];
}
