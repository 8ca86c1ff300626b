import { tf } from '../engine/tf.js';
import type { LoraPair } from './optimizer.js';

/**
 * Validates LoRA pairs and joins them with the other trainable parameters (heads, biases) into the
 * one map of everything the optimiser updates. Pairs are matched by module, so a checkpoint never
 * depends on parameter order.
 */
export function joinPairs(pairs: readonly LoraPair[], others: ReadonlyMap<string, tf.Variable>, who: string): Map<string, tf.Variable> {
  if (pairs.length === 0) throw new Error(`${who}: no LoRA pairs given (inject adapters first)`);
  const all = new Map<string, tf.Variable>();
  const add = (name: string, v: tf.Variable) => {
    if (all.has(name)) throw new Error(`${who}: parameter "${name}" appears twice`);
    all.set(name, v);
  };
  for (const p of pairs) {
    const [r, n] = p.A.shape;
    const [m, rb] = p.B.shape;
    if (rb !== r) throw new Error(`${who}: module "${p.module}": B [${p.B.shape}] does not match A [${p.A.shape}] (rank ${r})`);
    if (r < 1) throw new Error(`${who}: module "${p.module}": rank must be ≥ 1, got ${r}`);
    if (!(Number.isFinite(p.scale) && p.scale > 0)) throw new Error(`${who}: module "${p.module}": scale must be > 0, got ${p.scale}`);
    if (m < 1 || n < 1) throw new Error(`${who}: module "${p.module}": empty layer [${m}, ${n}]`);
    add(p.aName, p.A);
    add(p.bName, p.B);
  }
  for (const [name, v] of others) add(name, v);
  return all;
}

/** Parameters that are not LoRA factors. */
export function nonLoraParams(all: ReadonlyMap<string, tf.Variable>, pairs: readonly LoraPair[]): Map<string, tf.Variable> {
  const lora = new Set(pairs.flatMap((p) => [p.aName, p.bName]));
  return new Map([...all].filter(([n]) => !lora.has(n)));
}
