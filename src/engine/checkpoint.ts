// Gradient checkpointing: a function's intermediate tensors are recomputed in the backward pass
// instead of kept from the forward pass (PyTorch's torch.utils.checkpoint, Chen et al. 2016).
//
// TF.js 4.22 has no such primitive; tf.customGrad is the way in. Its forward runs as one kernel
// (engine.runKernelFunc raises kernelDepth, so nothing inside is taped and nothing inside is kept),
// the tape node saves only what we hand `save`, and its gradient function runs the function again
// under a fresh tape (engine.gradients) to get the input's and the parameters' gradients. customGrad
// differentiates only its explicit inputs, so the parameters the function reads are passed as inputs
// too. The nested engine.gradients starts its tape by replacing the engine's `activeTape`, and ends by
// setting it to null, which the outer pass still reads when it ends: the outer tape is put back.
import { tf } from './tf.js';
import { freeAsBackpropGoes } from './tape.js';

interface EngineInternals {
  state: { activeTape: unknown[] | null };
  isTapeOn(): boolean;
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor): { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
}

const engine = (): EngineInternals => tf.engine() as unknown as EngineInternals;

/** Whether a gradient tape records right now (inside tf.grads / tf.variableGrads, outside a kernel). */
export function recordingGradients(): boolean {
  return engine().isTapeOn();
}

/**
 * `f(x, consts)`, keeping only `x` and `consts` for the backward pass, which runs `f` again to
 * get the gradients of `x` and of `params` (the trainable variables `f` reads; variables not listed
 * get no gradient through it). `f` must compute the same thing when run twice (seed any dropout the
 * same way both times). Outside a gradient tape this is just `f(x, consts)`.
 *
 * @example
 *   x = checkpoint((h, [bias]) => block.forward(h, bias), x, [bias], [...block.trainableParameters().values()]);
 */
export function checkpoint<T extends tf.Tensor>(f: (x: T, consts: tf.Tensor[]) => T, x: T, consts: readonly tf.Tensor[], params: readonly tf.Variable[]): T {
  if (!recordingGradients()) return f(x, [...consts]);
  const n = consts.length;
  const run = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save([x, ...consts]);
    const value = f(x, [...consts]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => recompute(f, saved[0] as T, saved.slice(1, 1 + n), params, dy);
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...inputs: tf.Tensor[]) => T;
  return run(x, ...params);
}

/** The gradients of x and of each parameter: `f` run again under its own tape, `dy` fed back through it. */
function recompute<T extends tf.Tensor>(f: (x: T, consts: tf.Tensor[]) => T, x: T, consts: tf.Tensor[], params: readonly tf.Variable[], dy: tf.Tensor): tf.Tensor[] {
  const e = engine();
  const outerTape = e.state.activeTape;
  try {
    const { value, grads } = e.gradients(
      () => {
        const y = f(x, consts);
        freeAsBackpropGoes(); // this pass frees as it goes too (it runs at gradient depth 1)
        return y;
      },
      [x, ...params],
      tf.clone(dy), // the inner pass frees its dy; the outer pass may still hold this one
    );
    value.dispose();
    return grads.map((g, i) => g ?? tf.zerosLike(i === 0 ? x : params[i - 1]));
  } finally {
    e.state.activeTape = outerTape;
  }
}
