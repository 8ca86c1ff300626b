// Injects LoRA adapters into a model with PEFT's matching rules, and lists what is trainable.
import { tf } from '../engine/tf.js';
import { Rng } from '../math/rng.js';
import { getModule, type Module } from '../models/module.js';
import { FrozenLinear, FrozenSlot } from '../models/frozen-linear.js';
import { Linear } from '../models/linear.js';
import type { LoraPair } from '../optim/optimizer.js';
import { compileRegex, mutatesBase, type LoraConfig } from './lora-config.js';
import { initFromBase } from './lora-init.js';
import { LoraLinear } from './lora-linear.js';

/** PEFT's default layer-container names for layers_to_transform. */
const COMMON_LAYERS_PATTERN = ['layers', 'h', 'block', 'blocks', 'layer'];

const injected = new WeakMap<Module, LoraConfig>();

/** The config a model's adapters were injected with, if any. */
export function adapterConfigOf(model: Module): LoraConfig | undefined {
  return injected.get(model);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function matchesList(path: string, names: readonly string[]): boolean {
  return names.some((t) => path === t || path.endsWith(`.${t}`));
}

function layerIndex(path: string, patterns: readonly string[] | undefined): number | undefined {
  const list = patterns && patterns.length > 0 ? patterns : undefined;
  const regexes = list ? list.map((p) => new RegExp(`^.*\\.${p}\\.(\\d+)\\.`)) : [/^.*\.[^.]*\.(\d+)\./];
  for (const re of regexes) {
    const m = re.exec(path);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** PEFT's `get_pattern_key`: the first key k with `(.*\.)?k$` matching the path. */
export function patternValue(patterns: Readonly<Record<string, number>>, path: string): number | undefined {
  for (const [k, v] of Object.entries(patterns)) if (new RegExp(`^(.*\\.)?(${k})$`).test(path)) return v;
  return undefined;
}

/** Module paths of every plain linear layer, with the output head excluded (as PEFT's 'all-linear'). */
function linearPaths(model: Module, outputHeads: readonly string[]): string[] {
  return [...model.namedModules()].filter(([p, m]) => p !== '' && (m instanceof Linear || m instanceof FrozenLinear) && !outputHeads.some((h) => p === h || p.startsWith(`${h}.`))).map(([p]) => p);
}

/** Output-layer children that 'all-linear' never targets (lm_head, score, classifier). */
const OUTPUT_HEADS = ['lm_head', 'score', 'classifier'];

/** Which linear layers the config selects, by PEFT's check_target_module_exists rules. */
export function selectTargets(model: Module, config: LoraConfig): string[] {
  const candidates = linearPaths(model, config.targetModules === 'all-linear' ? OUTPUT_HEADS : []);
  const saved = config.modulesToSave.map((m) => new RegExp(`(^|.*\\.)${escape(m)}($|\\..*)`));
  const exclude = typeof config.excludeModules === 'string' ? compileRegex(config.excludeModules, 'excludeModules') : undefined;
  const target = typeof config.targetModules === 'string' && config.targetModules !== 'all-linear' ? compileRegex(config.targetModules, 'targetModules') : undefined;
  return candidates.filter((path) => {
    if (exclude ? exclude.test(path) : config.excludeModules && matchesList(path, config.excludeModules as string[])) return false;
    if (saved.some((re) => re.test(path))) return false;
    let found: boolean;
    if (config.targetModules === 'all-linear') found = true;
    else if (target) return target.test(path); // a regex target ignores layers_to_transform, as PEFT
    else found = matchesList(path, config.targetModules as string[]);
    if (found && config.layersToTransform) {
      const idx = layerIndex(path, config.layersPattern);
      found = idx !== undefined && config.layersToTransform.includes(idx);
    }
    return found;
  });
}

function parentOf(model: Module, path: string): { parent: Module; name: string } {
  const cut = path.lastIndexOf('.');
  return { parent: cut < 0 ? model : getModule(model, path.slice(0, cut)), name: path.slice(cut + 1) };
}

export interface InjectOptions {
  /** LoRA-GA: each target layer's estimated full-weight gradient [out, in], by module path (see lora-ga.ts). */
  readonly gradients?: ReadonlyMap<string, tf.Tensor2D>;
}

/**
 * Freezes the model, wraps every selected linear layer in a LoraLinear, and makes the
 * modules_to_save trainable. Matching nothing is an error that lists the available layers. Inits
 * from the base (PiSSA, OLoRA, LoRA-GA) rewrite each target's base weight to the residual.
 *
 * @example
 *   const pairs = injectLora(model, loraConfig({ r: 8, loraAlpha: 16, targetModules: ['c_attn'] }));
 */
export function injectLora(model: Module, config: LoraConfig, opts: InjectOptions = {}): LoraPair[] {
  if (injected.has(model)) throw new Error('the model already has LoRA adapters; merge and unload them first');
  const targets = selectTargets(model, config);
  if (targets.length === 0) {
    const names = [...new Set(linearPaths(model, []).map((p) => p.replace(/\.\d+\./g, '.*.')))];
    const how = typeof config.targetModules === 'string' ? ' (a regex must match the whole module path, e.g. ".*\\.q_proj")' : '';
    throw new Error(`target modules ${JSON.stringify(config.targetModules)} match no linear layer${how}; available: ${names.join(', ')}`);
  }
  if (config.initLoraWeights === 'lora_ga') {
    const missing = targets.filter((p) => !opts.gradients?.has(p));
    if (missing.length > 0) {
      throw new Error(`init "lora_ga" needs each target layer's estimated gradient from a pass over training data (none for ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}); a raw LoRA-GA adapter cannot be rebuilt from the base alone: save it converted`);
    }
  }
  const modules = model.namedModules();
  for (const m of config.modulesToSave) {
    if (![...modules.keys()].some((p) => p === m || p.endsWith(`.${m}`))) {
      throw new Error(`modules_to_save "${m}" matches no module; top-level modules: ${[...model.children().keys()].join(', ')}`);
    }
  }
  for (const [path, m] of modules) {
    const saved = config.modulesToSave.some((s) => path === s || path.endsWith(`.${s}`));
    if (saved && [...m.namedModules().values()].some((x) => x instanceof FrozenSlot)) {
      throw new Error(`modules_to_save "${path}" would train weights that are on the frozen tier (quantized, or kept outside the wasm heap); leave it out, or load with --quantize none on LORAPRO_BACKEND=wasm`);
    }
  }
  model.setTrainable(false);
  const rng = new Rng(config.seed);
  for (const path of targets) {
    const base = modules.get(path) as Linear | FrozenLinear;
    const r = patternValue(config.rankPattern, path) ?? config.r;
    const alpha = patternValue(config.alphaPattern, path) ?? config.loraAlpha;
    let lora: LoraLinear;
    try {
      lora = new LoraLinear(base, { r, alpha, dropout: config.loraDropout, useRslora: config.useRslora, init: config.initLoraWeights, rng, useDora: config.useDora });
      if (mutatesBase(config.initLoraWeights)) initFromBase(lora, config.initLoraWeights, opts.gradients?.get(path));
    } catch (e) {
      throw new Error(`cannot adapt "${path}": ${(e as Error).message}`);
    }
    const { parent, name } = parentOf(model, path);
    parent.replaceChild(name, lora);
  }
  for (const [path, m] of model.namedModules()) {
    if (config.modulesToSave.some((s) => path === s || path.endsWith(`.${s}`))) m.setTrainable(true);
  }
  injected.set(model, config);
  return loraPairs(model);
}

/** Every adapter's A/B pair, keyed by module path, for the LoRA-Pro optimisers. */
export function loraPairs(model: Module): LoraPair[] {
  return [...model.namedModules()]
    .filter((e): e is [string, LoraLinear] => e[1] instanceof LoraLinear)
    .map(([path, m]) => ({ module: path, aName: `${path}.lora_A.weight`, bName: `${path}.lora_B.weight`, A: m.A, B: m.B, scale: m.scale }));
}

/** Switches dropout (adapters' and models' that honour it) on or off. */
export function setTraining(model: Module, training: boolean): void {
  for (const m of model.namedModules().values()) if (m instanceof LoraLinear) m.training = training;
}

/** Folds every adapter into its base weight and puts the plain linear layers back. */
export function mergeAndUnload(model: Module, opts: { safe?: boolean } = {}): void {
  for (const [path, m] of [...model.namedModules()]) {
    if (!(m instanceof LoraLinear)) continue;
    m.merge(opts.safe ?? true);
    const { parent, name } = parentOf(model, path);
    parent.replaceChild(name, m.base);
    m.disposeAdapter();
  }
  injected.delete(model);
}

/** Merges (or unmerges) adapters in place, keeping them for further training. */
export function setMerged(model: Module, merged: boolean): void {
  for (const m of model.namedModules().values()) if (m instanceof LoraLinear) (merged ? m.merge(true) : m.unmerge());
}
