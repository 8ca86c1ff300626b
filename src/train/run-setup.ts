// Everything a training run needs before its first step: tokenizer, data, model and method, in the
// order that reports the user's mistakes soonest (files and data before the model is loaded).
import { LoraLinear } from '../adapters/lora-linear.js';
import { readModelConfig, type ModelConfig } from '../io/hf-config.js';
import type { Rng } from '../math/rng.js';
import type { Tokenizer } from '../io/tokenizer.js';
import type { AnyModel } from '../models/types.js';
import type { MethodSetup } from './methods.js';
import { setupForConfig } from './method-setup.js';
import type { ResolvedTrainConfig, TrainConfig } from './config.js';
import { maxPositionsOf } from './session.js';
import { loadRunData, type RunData } from './run-data.js';
import { frozenTierFor, loadRunModel, loadRunTokenizer, padIdOf, requireModelDir } from './run-model.js';
import { checkInit, hasDiagnostic, usesAdapters } from './methods.js';
import { mutatesBase } from '../adapters/lora-config.js';
import { frozenBytes, frozenTierNative } from '../engine/frozen.js';
import { humanBytes } from './run-memory.js';
import { DIAGNOSTIC_COPY_BYTES, frozenDiagnosticFits } from './diagnostics.js';
import { FrozenLinear } from '../models/frozen-linear.js';
import type { QuantizeMode } from '../quant/formats.js';

export interface PreparedRun {
  readonly config: ResolvedTrainConfig;
  readonly tokenizer: Tokenizer;
  readonly model: AnyModel;
  readonly setup: MethodSetup;
  readonly data: RunData;
  readonly padId: number;
  /** Tokens per example: --max-length, or fewer when the model has fewer positions. */
  readonly maxLength: number;
}

export { maxPositionsOf } from './session.js';

/** The tokenizer and the tokenized data of a run: what it needs before the model. */
export async function loadRunInputs(config: TrainConfig, log: (line: string) => void): Promise<Pick<PreparedRun, 'tokenizer' | 'padId' | 'maxLength' | 'data'>> {
  requireModelDir(config.model);
  const tokenizer = await loadRunTokenizer(config.model);
  const padId = padIdOf(tokenizer, config.model);
  const positions = maxPositionsOf(await readModelConfig(config.model));
  const maxLength = Math.min(config.maxLength, positions);
  if (maxLength < config.maxLength) log(`--max-length ${config.maxLength} exceeds the model's ${positions} positions; using ${maxLength}`);
  const data = loadRunData({ ...config, maxLength }, tokenizer, log);
  return { tokenizer, padId, maxLength, data };
}

/**
 * Loads and checks everything for `config`. Dispose `model` and `setup.optimizer` when done.
 *
 * @example
 *   const run = await prepareRun(trainConfig({...}), console.error);
 */
export async function prepareRun(config: ResolvedTrainConfig, log: (line: string) => void): Promise<PreparedRun> {
  const { tokenizer, padId, maxLength, data } = await loadRunInputs(config, log);
  const needsBaseWeight = config.method === 'dora' || mutatesBase(checkInit(config.init));
  const frozen = frozenTierFor(await readModelConfig(config.model), { adapters: usesAdapters(config.method), needsBaseWeight, quantize: config.quantize }, log);
  const before = frozenBytes();
  const model = await loadRunModel(config.model, config.task, { labels: data.labels, tokenizer, seed: config.seed, log, frozen });
  if (frozen) log(frozenTierLine(frozen.quantize, frozenBytes() - before));
  const frozenLinears = [...model.namedModules().values()].filter((m): m is FrozenLinear => m instanceof FrozenLinear);
  if (config.diagnostics && hasDiagnostic(config.method) && !frozenDiagnosticFits(frozenLinears)) {
    log(`diagnostics: skipped, the base is on the frozen tier and float32 copies of its layers for the full gradient would pass ${humanBytes(DIAGNOSTIC_COPY_BYTES)}; --no-diagnostics silences this`);
  }
  try {
    const setup = setupForConfig(model, config, { data, padId });
    return { config, tokenizer, model, setup, data, padId, maxLength };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** The log line of a base on the frozen tier: what it holds and where. */
export function frozenTierLine(quantize: QuantizeMode, bytes: number): string {
  const how = quantize === 'none' ? 'in the checkpoint dtype' : `block linear layers quantized to ${quantize} (embeddings and LM head in the checkpoint dtype)`;
  return frozenTierNative() ? `frozen base ${how}: ${humanBytes(bytes)} outside the wasm heap` : `frozen base ${how}, held as float32 on the heap (no native engine)`;
}

/** Frees the model's weights and the optimiser's state. */
export function disposeRun(run: PreparedRun): void {
  run.setup.optimizer.dispose();
  run.model.dispose();
}

/**
 * The RNGs that draw LoRA dropout masks (injectLora shares one among all adapters), distinct and in
 * module order, so a checkpoint can save and restore their states.
 */
export function dropoutRngs(model: AnyModel): Rng[] {
  const out: Rng[] = [];
  for (const m of model.namedModules().values()) {
    const rng = m instanceof LoraLinear ? m.rng : undefined;
    if (rng && !out.includes(rng)) out.push(rng);
  }
  return out;
}
