// Frees each node's output gradients and saved tensors as soon as TF.js's backward pass is done with them.
//
// tfjs-core 4.22's backward pass (tape.ts `backpropagateGradients`, called from engine.ts `gradients`)
// walks the tape from the loss back and keeps every gradient it made, and every tensor a node saved for
// it, until the whole pass ends: at its end a training step holds the gradient of every intermediate
// tensor of the forward pass at once (measured on bench:torch's Llama M LoRA step: 1.8 GB of live wasm
// heap, of which the forward pass's saved tensors are under a third). PyTorch frees both per node.
// Here, the tape's gradient functions are wrapped so that when the walk reaches a node, the previous
// node's output gradients (each tensor's gradient is read only by the node that made the tensor) and
// saved tensors are disposed, unless a gradient function handed one of them on as an input gradient
// (a gradient returned as is, or a saved tensor returned as a gradient).
import { tf } from './tf.js';

interface TapeNode {
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineState {
  activeTape: TapeNode[] | null;
  gradientDepth: number;
}

const wrapped = new WeakSet<TapeNode>();
let enabled = true;

/** Switches the early freeing off (TF.js's own behaviour) or back on: for before/after benchmarks. */
export function useEarlyFree(on: boolean): void {
  enabled = on;
}

/**
 * Call at the end of the function given to tf.variableGrads / tf.grads (still inside it, while the tape
 * records): the backward pass that follows frees as it goes. A nested gradient (depth > 1) is left alone.
 *
 * @example
 *   tf.variableGrads(() => { const loss = model.loss(batch); freeAsBackpropGoes(); return loss; }, vars);
 */
export function freeAsBackpropGoes(): void {
  const state = (tf.engine() as unknown as { state: EngineState }).state;
  const tape = state.activeTape;
  if (!enabled || tape === null || state.gradientDepth !== 1) return;
  // How many gradient slots (one per tensor) hold each tensor an input-gradient function handed out.
  // Usually one; a gradient returned as is, or one tensor handed to two inputs, holds more.
  const slots = new Map<tf.Tensor, number>();
  let previous: { dys: tf.Tensor[]; before: number[]; saved: tf.Tensor[] } | null = null;
  const releasePrevious = () => {
    if (previous === null) return;
    const { dys, before, saved } = previous;
    dys.forEach((t, i) => {
      // t sat in its tensor's slot: counted there if it was handed out, else it was a sum or the loss's ones
      const held = (slots.get(t) ?? 0) + (before[i] > 0 ? 0 : 1) - 1; // slots still holding it, that one read
      if (held <= 0) {
        slots.delete(t);
        t.dispose();
      } else slots.set(t, held);
    });
    for (const t of saved) if (!slots.has(t)) t.dispose();
    previous = null;
  };
  for (const node of tape) {
    const gradient = node.gradient;
    if (gradient === undefined || wrapped.has(node)) continue;
    wrapped.add(node);
    node.gradient = (dys) => {
      releasePrevious();
      const inputGrads = gradient(dys);
      const present = dys.filter((t): t is tf.Tensor => t !== null);
      previous = { dys: present, before: present.map((t) => slots.get(t) ?? 0), saved: node.saved ?? [] };
      const out: Record<string, () => tf.Tensor> = {};
      for (const [name, f] of Object.entries(inputGrads)) {
        out[name] = () => {
          const dx = f();
          slots.set(dx, (slots.get(dx) ?? 0) + 1);
          return dx;
        };
      }
      return out;
    };
  }
}
