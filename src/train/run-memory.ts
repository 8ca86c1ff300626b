// What a method costs in parameters and memory, counted from the model's module tree: weights,
// gradients and optimiser state in float32 (activations depend on batch and length, and are left out).
import { injectLora, mergeAndUnload } from '../adapters/inject.js';
import { resolveTargetModules } from '../adapters/peft-targets.js';
import { loraConfig } from '../adapters/lora-config.js';
import type { PretrainedModel } from '../models/types.js';
import { METHODS, usesAdapters, type MethodName } from './methods.js';
import { UsageError } from './errors.js';

const F32 = 4;

export interface MethodCost {
  readonly method: MethodName;
  readonly trainableParams: number;
  readonly weightBytes: number; // every parameter, adapters included
  readonly gradientBytes: number; // one float per trainable parameter
  readonly optimizerBytes: number; // moments / momentum buffers
  /** Adapted layers' count (0 for full). */
  readonly adaptedLayers: number;
}

export interface ModelCounts {
  readonly totalParams: number;
  /** Parameters of the adapters (A and B of every adapted layer). */
  readonly adapterParams: number;
  /** Parameters of modules trained in full alongside adapters (classification heads). */
  readonly headParams: number;
  /** Σ m·n over adapted layers: the size of LoRA-Pro full mode's per-layer Adam moments. */
  readonly adaptedWeightParams: number;
  readonly adaptedLayers: number;
  /** Σ r·in over adapted layers: the A factors (frozen by LoRA-FA). */
  readonly adapterAParams: number;
  /** Σ out over adapted layers: DoRA's magnitudes. */
  readonly adaptedOutputs: number;
}

const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Counts parameters with and without adapters by injecting them into `model` and unloading them
 * again (the model's weights are unchanged: a fresh B is zero, so the merge adds nothing).
 */
export function countParameters(model: PretrainedModel, o: { rank: number; alpha: number; targetModules: readonly string[] | string; modulesToSave: readonly string[] }): ModelCounts {
  const totalParams = [...model.namedParameters().values()].reduce((n, v) => n + v.size, 0);
  let pairs;
  try {
    pairs = injectLora(model, loraConfig({ r: o.rank, loraAlpha: o.alpha, targetModules: resolveTargetModules(o.targetModules, model), modulesToSave: o.modulesToSave }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const adapterParams = pairs.reduce((n, p) => n + p.A.size + p.B.size, 0);
  const adapterNames = new Set(pairs.flatMap((p) => [p.aName, p.bName]));
  const headParams = [...model.trainableParameters()].filter(([name]) => !adapterNames.has(name)).reduce((n, [, v]) => n + v.size, 0);
  const adaptedWeightParams = pairs.reduce((n, p) => n + count([p.B.shape[0], p.A.shape[1]]), 0);
  const adapterAParams = pairs.reduce((n, p) => n + p.A.size, 0);
  const adaptedOutputs = pairs.reduce((n, p) => n + p.B.shape[0], 0);
  mergeAndUnload(model);
  model.setTrainable(true);
  return { totalParams, adapterParams, headParams, adaptedWeightParams, adaptedLayers: pairs.length, adapterAParams, adaptedOutputs };
}

/** Weights, gradients and optimiser state of `method` (float32). */
export function methodCost(method: MethodName, c: ModelCounts, momentum = 0): MethodCost {
  if (!usesAdapters(method)) {
    return { method, trainableParams: c.totalParams, weightBytes: c.totalParams * F32, gradientBytes: c.totalParams * F32, optimizerBytes: 2 * c.totalParams * F32, adaptedLayers: 0 };
  }
  // DoRA adds a magnitude per output row; LoRA-FA freezes A (stored, not trained)
  const extra = method === 'dora' ? c.adaptedOutputs : 0;
  const trainable = c.adapterParams + c.headParams + extra - (method === 'lora-fa' ? c.adapterAParams : 0);
  const optimizerParams =
    method === 'lora-pro'
      ? 2 * (c.adaptedWeightParams + c.headParams) // m×n first and second moments per adapted layer
      : method === 'lora-pro-sgd'
        ? (momentum > 0 ? trainable : 0)
        : 2 * trainable;
  return {
    method,
    trainableParams: trainable,
    weightBytes: (c.totalParams + c.adapterParams + extra) * F32,
    gradientBytes: trainable * F32,
    optimizerBytes: optimizerParams * F32,
    adaptedLayers: c.adaptedLayers,
  };
}

/** Every method's cost, in METHODS order. */
export function allMethodCosts(c: ModelCounts): MethodCost[] {
  return METHODS.map((m) => methodCost(m, c));
}

/** 1234567 → "1.23 M"; bytes → "4.7 MiB". */
export function humanCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
