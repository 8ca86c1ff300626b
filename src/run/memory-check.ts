// The memory check before a run (train/memory-estimate.ts's figures against this machine; for eval and
// generate, memory-inference.ts's): a run that cannot fit is refused before any weight is loaded, with
// the figures and the changes that would make it fit; a heap that runs out anyway becomes the same kind
// of error instead of "Aborted()".
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { ADAPTER_WEIGHTS } from '../adapters/peft-format.js';
import { engineName } from '../engine/backend.js';
import { frozenTierNative } from '../engine/frozen.js';
import { hostAdamOn, nativeOpsOn } from '../engine/fused.js';
import { wasmHeapBytes } from '../engine/heap.js';
import { readModelConfig, type ModelConfig } from '../io/hf-config.js';
import { listCheckpointFiles } from '../io/safetensors-shards.js';
import { readSafetensorsHeader } from '../io/safetensors-read.js';
import type { TrainConfig } from '../train/config.js';
import { OutOfMemoryError } from '../train/errors.js';
import { estimateLines, gib, memoryProblems, WASM_HEAP_MAX, waysOutOf, type MemoryEstimate, type MemoryLimits, type MemoryRequest, type QuantizeOption } from '../train/memory-estimate.js';
import { estimateInference, inferenceLines, inferenceWaysOut, type InferenceEstimate, type InferenceRequest } from '../train/memory-inference.js';
import { estimateRun, modelShape, type ModelShape } from '../train/memory-stacks.js';
import { usesAdapters, type MethodName } from '../train/methods.js';
import { frozenTierFor, planTrained, requireModelDir, type TrainedOptions, type TrainedPlan } from '../train/run-model.js';

/** Set to "off" to run without the check (when the estimate is wrong for a model). */
export const MEMORY_CHECK_ENV = 'LORAPRO_MEMORY_CHECK';

/**
 * Whether the frozen base sits outside the wasm heap for `method` on this model: train/run-model.ts's
 * rule itself. An init that rewrites the base (PiSSA, OLoRA, LoRA-GA) keeps it on the heap, which this
 * estimate, not knowing the init, does not see.
 */
function onFrozenTier(config: ModelConfig, method: MethodName): boolean {
  return frozenTierFor(config, { adapters: usesAdapters(method), needsBaseWeight: method === 'dora', quantize: 'none' }, () => {}) !== undefined;
}

/**
 * The checkpoint's float format: the dtype holding most of its values (F64 loads as float32), from
 * the safetensors headers only; a folder without weights falls back to config.json's torch_dtype.
 */
export async function checkpointFormat(dir: string, config?: ModelConfig): Promise<MemoryRequest['checkpointFormat']> {
  let files: string[];
  try {
    files = await listCheckpointFiles(dir);
  } catch {
    const dtype = config?.raw.torch_dtype ?? config?.raw.dtype;
    return dtype === 'bfloat16' ? 'bf16' : dtype === 'float16' ? 'f16' : 'f32';
  }
  const counts = new Map<string, number>();
  for (const file of files) {
    for (const info of (await readSafetensorsHeader(file)).tensors.values()) {
      counts.set(info.dtype, (counts.get(info.dtype) ?? 0) + info.shape.reduce((a, b) => a * b, 1));
    }
  }
  const [top] = [...counts].sort((a, b) => b[1] - a[1]);
  return top?.[0] === 'BF16' ? 'bf16' : top?.[0] === 'F16' ? 'f16' : 'f32';
}

/** /proc/meminfo's MemAvailable (what can be allocated without swapping), else os.freemem(). */
export async function availableMemory(): Promise<number> {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(await readFile('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return freemem();
}

/** The heap's ceiling on the engine in use (the cpu backend has none) and the machine's available memory. */
export async function machineLimits(): Promise<MemoryLimits> {
  return { heapBytes: engineName() === 'cpu' ? Number.POSITIVE_INFINITY : WASM_HEAP_MAX, machineBytes: await availableMemory() };
}

/** A model folder's shape, request and limits: undefined for a model the estimate does not cover. */
export async function estimateFor(dir: string, request: Omit<MemoryRequest, 'checkpointFormat' | 'frozenTier'> & { frozenTier?: boolean }, config?: ModelConfig): Promise<{ shape: ModelShape; estimate: MemoryEstimate; limits: MemoryLimits } | undefined> {
  const modelConfig = config ?? (await readModelConfig(dir));
  const shape = modelShape(modelConfig);
  if (shape === undefined) return undefined;
  const full: MemoryRequest = {
    ...request,
    checkpointFormat: await checkpointFormat(dir, modelConfig),
    frozenTier: request.frozenTier ?? onFrozenTier(modelConfig, request.method),
    momentsOutsideHeap: request.momentsOutsideHeap ?? hostAdamOn(), // LoraProAdamW's default (optim/host-moments.ts)
  };
  return { shape, estimate: estimateRun(shape, full), limits: await machineLimits() };
}

/** The memory request of a training config. */
export function requestOf(config: TrainConfig): Omit<MemoryRequest, 'checkpointFormat' | 'frozenTier'> {
  const quantize: QuantizeOption = config.quantize;
  return {
    method: config.method,
    rank: config.rank,
    targetModules: config.targetModules,
    task: config.task === 'causal-lm' ? 'causal-lm' : 'sequence-classification',
    quantize,
    batchSize: config.batchSize,
    maxLength: config.maxLength,
    gradientCheckpointing: config.gradientCheckpointing,
    loraDropout: config.loraDropout,
  };
}

/**
 * Refuses `config` (OutOfMemoryError, exit 2) when its estimate exceeds the wasm heap or the machine,
 * before anything is loaded; logs the estimate's summary otherwise. LORAPRO_MEMORY_CHECK=off skips it.
 */
export async function checkRunMemory(config: TrainConfig, log: (line: string) => void): Promise<void> {
  if (process.env[MEMORY_CHECK_ENV] === 'off') return;
  requireModelDir(config.model); // a missing folder is reported as such, not as a missing config.json
  const found = await estimateFor(config.model, requestOf(config));
  if (found === undefined) return;
  const { shape, estimate, limits } = found;
  const problems = memoryProblems(estimate, limits);
  if (problems.length === 0) {
    log(`memory estimate: wasm heap ${gib(estimate.heapBytes)}${Number.isFinite(limits.heapBytes) ? ` of ${gib(limits.heapBytes)}` : ''}, process ${gib(estimate.processBytes)} of ${gib(limits.machineBytes)} available (lorapro info shows the parts)`);
    return;
  }
  throw new OutOfMemoryError(refusal(`${config.model} with ${config.method} cannot fit: ${problems.join('; ')}`, shape, estimate, limits));
}

/** The error for a heap that ran out during a run the estimate let through (or with the check off). */
export async function heapRanOut(config: TrainConfig, e: unknown): Promise<OutOfMemoryError> {
  const heap = wasmHeapBytes();
  const what = `ran out of memory${heap === undefined ? '' : ` (wasm heap at ${gib(heap)} of its ${gib(WASM_HEAP_MAX)} ceiling)`}: ${(e as Error).message}`;
  const found = await estimateFor(config.model, requestOf(config)).catch(() => undefined);
  if (found === undefined) return new OutOfMemoryError(`${config.model} with ${config.method} ${what}`);
  return new OutOfMemoryError(refusal(`${config.model} with ${config.method} ${what}`, found.shape, found.estimate, found.limits));
}

export function refusal(first: string, shape: ModelShape, estimate: MemoryEstimate, limits: MemoryLimits): string {
  const ways = waysOutOf((r) => estimateRun(shape, r), estimate.request, limits);
  return refusalText(first, estimateLines(estimate, limits), ways, 'no change of batch, length, checkpointing, method or quantization fits this machine by the estimate');
}

function refusalText(first: string, lines: readonly string[], ways: readonly string[], none: string): string {
  return [first, ...lines, ways.length > 0 ? 'ways out (each alone, estimated):' : none, ...ways.map((w) => `  ${w}`), `(${MEMORY_CHECK_ENV}=off skips this check)`].join('\n');
}

/** An eval or generate run, before anything is loaded: the folders, and the batch and lengths asked. */
export interface InferenceRun extends TrainedOptions {
  readonly command: InferenceRequest['command'];
  readonly batchSize: number;
  readonly inputLength: number;
  readonly newTokens: number;
}

/** Bytes of the adapter's tensors as float32 (how loadAdapter holds them), from its safetensors header. */
async function adapterBytes(dir: string | undefined): Promise<number> {
  if (dir === undefined || !existsSync(join(dir, ADAPTER_WEIGHTS))) return 0; // loadAdapter reports a missing file
  const { tensors } = await readSafetensorsHeader(join(dir, ADAPTER_WEIGHTS));
  return 4 * [...tensors.values()].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
}

/** The estimate of an eval or generate run, with the base placed as loadTrained will place it; undefined for a model the estimate does not cover. */
export async function inferenceEstimateFor(run: InferenceRun, planned?: TrainedPlan): Promise<{ shape: ModelShape; estimate: InferenceEstimate; limits: MemoryLimits } | undefined> {
  const plan = planned ?? (await planTrained({ ...run, log: () => {} })); // loadTrained says what it logs when it loads
  const shape = modelShape(plan.config);
  if (shape === undefined) return undefined;
  const request: InferenceRequest = {
    command: run.command,
    task: plan.task === 'causal-lm' ? 'causal-lm' : 'sequence-classification',
    numLabels: plan.labels?.length,
    quantize: plan.frozen?.quantize ?? 'none',
    checkpointFormat: await checkpointFormat(run.model, plan.config),
    frozenTier: plan.frozen !== undefined && frozenTierNative(),
    batchSize: run.batchSize,
    inputLength: run.inputLength,
    newTokens: run.newTokens,
    adapterBytes: await adapterBytes(run.adapter),
    fused: nativeOpsOn(),
  };
  return { shape, estimate: estimateInference(shape, request), limits: await machineLimits() };
}

/**
 * Refuses an eval or generate run (OutOfMemoryError, exit 2) whose estimate exceeds the wasm heap or
 * the machine, before any weight is loaded, with the figures and the options that would fit.
 * LORAPRO_MEMORY_CHECK=off skips it.
 */
export async function checkInferenceMemory(run: InferenceRun, plan?: TrainedPlan): Promise<void> {
  if (process.env[MEMORY_CHECK_ENV] === 'off') return;
  const found = await inferenceEstimateFor(run, plan);
  if (found === undefined) return;
  const { shape, estimate, limits } = found;
  const problems = memoryProblems(estimate, limits);
  if (problems.length === 0) return;
  const ways = inferenceWaysOut(shape, estimate.request, limits);
  throw new OutOfMemoryError(refusalText(`${run.model}${run.adapter ? ` with ${run.adapter}` : ''} cannot fit: ${problems.join('; ')}`, inferenceLines(estimate, limits), ways, 'no change of batch, length or quantization fits this machine by the estimate'));
}
