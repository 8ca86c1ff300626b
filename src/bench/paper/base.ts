// The base model of the demo and the benchmark: models/lorapro-base when it is there, else (only
// when the caller allows it) a small stand-in pretrained on the spot for a bounded time.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Progress } from '../../train/progress.js';
import { pretrain } from '../../run/pretrain.js';
import { UsageError } from '../../train/errors.js';

/** The repository (package) root: dist/bench/paper/ → ../../../ */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SHIPPED_BASE = join(PACKAGE_ROOT, 'models', 'lorapro-base');
export const BASE_CONFIG = join(PACKAGE_ROOT, 'models', 'base-config.json');

export interface BaseChoice {
  readonly dir: string;
  /** How the base was obtained, one sentence for the output and the report. */
  readonly note: string;
  readonly standIn: boolean;
}

/** A path as the user would type it from the current folder. */
export const shown = (p: string): string => relative(process.cwd(), p) || '.';

/**
 * `model` if given (it must exist); else the shipped base; else, when `fallbackDir` is given, a
 * stand-in pretrained for `fallbackMinutes` into it (said plainly in the returned note).
 */
export async function chooseBase(
  o: { model?: string; fallbackDir?: string; fallbackMinutes?: number },
  hooks: { progress?: Progress; log: (line: string) => void },
): Promise<BaseChoice> {
  if (o.model !== undefined) {
    if (!existsSync(join(o.model, 'config.json'))) throw new UsageError(`--model: ${o.model} is not a model folder (no config.json)`);
    return { dir: o.model, note: `base model ${o.model}`, standIn: false };
  }
  if (existsSync(join(SHIPPED_BASE, 'config.json'))) return { dir: SHIPPED_BASE, note: `base model ${shown(SHIPPED_BASE)} (shipped with the package)`, standIn: false };
  if (o.fallbackDir === undefined) throw new UsageError(`${shown(SHIPPED_BASE)} is not there: pretrain it with "lorapro pretrain --config ${shown(BASE_CONFIG)} --out ${shown(SHIPPED_BASE)}" or pass --model DIR`);
  const minutes = o.fallbackMinutes ?? 1.5;
  hooks.log(`NOTE: ${shown(SHIPPED_BASE)} is not there, so a stand-in base is pretrained now for about ${Math.round(minutes * 60)} s into ${shown(o.fallbackDir)}. It is much weaker than a fully pretrained base; results on it say little about the methods.`);
  const outcome = await pretrain({ config: BASE_CONFIG, out: o.fallbackDir, work: `${o.fallbackDir}-work`, minutes, seed: 0 }, { progress: hooks.progress, log: hooks.log });
  if (outcome.result.status !== 'completed') throw new Error(`pretraining the stand-in base stopped: ${outcome.result.message ?? outcome.result.status}`);
  return { dir: o.fallbackDir, note: `a stand-in base pretrained by this run for ${outcome.result.steps} steps (${outcome.result.elapsedS.toFixed(0)} s) because ${shown(SHIPPED_BASE)} is not there`, standIn: true };
}
