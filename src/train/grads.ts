import { tf } from '../engine/tf.js';
import { freeAsBackpropGoes } from '../engine/tape.js';

/**
 * The value of `lossFn` and its gradients with respect to `params`, keyed by the parameters' own
 * names (Hugging Face / PEFT names, what the optimisers expect), not TF.js variable ids. Parameters
 * the loss does not reach get zero gradients. The caller disposes the loss and the gradients.
 *
 * @example
 *   const { loss, grads } = namedGradients(model.trainableParameters(), () => model.loss(ids, labels));
 *   await optimizer.step(grads);
 */
export function namedGradients(params: ReadonlyMap<string, tf.Variable>, lossFn: () => tf.Scalar): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const vars = [...params.values()];
  if (vars.length === 0) throw new Error('namedGradients: no parameters to differentiate (is everything frozen?)');
  const names = [...params.keys()];
  // tf.tidy keeps tensors it finds in plain objects and arrays (not in Maps), so the Map is built after.
  const out = tf.tidy(() => {
    // freed as the backward pass goes: each gradient and saved tensor once it has been read (engine/tape.ts)
    const loss = () => {
      const value = lossFn();
      freeAsBackpropGoes();
      return value;
    };
    const { value, grads } = tf.variableGrads(loss, vars);
    return { loss: value, grads: vars.map((v) => grads[v.name] ?? tf.zerosLike(v)) };
  });
  return { loss: out.loss, grads: new Map(names.map((n, i) => [n, out.grads[i]] as const)) };
}
