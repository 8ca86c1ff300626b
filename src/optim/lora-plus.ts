import { tf } from '../engine/tf.js';
import { AdamW, type AdamWOptions } from './adamw.js';
import type { LoraPair } from './optimizer.js';

/**
 * LoRA+ (Hayou et al., 2024): AdamW with B's learning rate `ratio` times A's (default 16).
 * Other parameters (heads in modules_to_save) keep the base learning rate.
 */
export function createLoraPlus(params: ReadonlyMap<string, tf.Variable>, pairs: readonly LoraPair[], opts: AdamWOptions & { ratio?: number }): AdamW {
  const ratio = opts.ratio ?? 16;
  if (!(Number.isFinite(ratio) && ratio > 0)) throw new Error(`LoRA+: ratio must be a positive number, got ${ratio}`);
  const lrScale = new Map(pairs.map((p) => [p.bName, ratio] as const));
  const opt = new AdamW(params, { ...opts, lrScale });
  Object.defineProperty(opt, 'name', { value: 'lora-plus' });
  return opt;
}
