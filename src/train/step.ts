// One optimiser step, shared by the Node trainer and the in-memory TrainSession (browser): the mean
// gradient of gradAccum micro-batches, then the method's optimiser at the step's learning rate.
import { tf } from '../engine/tf.js';
import { setTraining } from '../adapters/inject.js';
import type { AnyModel } from '../models/types.js';
import type { StepResult } from '../optim/optimizer.js';
import { batchLoss, type HostBatch } from '../data/batches.js';
import { namedGradients } from './grads.js';
import type { MethodSetup } from './methods.js';

/**
 * The mean gradient of `micro` micro-batches (each loss divided by their number, so the sum of
 * their gradients is the gradient of the mean) and the mean loss, neither read back. Parameters
 * the loss does not reach get zero gradients.
 */
export function stepGradients(model: AnyModel, params: ReadonlyMap<string, tf.Variable>, micro: readonly HostBatch[]): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  let grads: Map<string, tf.Tensor> | undefined;
  let loss: tf.Scalar | undefined;
  for (const b of micro) {
    const part = namedGradients(params, () => tf.div(batchLoss(model, b, true), micro.length) as tf.Scalar);
    grads = grads ? sumInto(grads, part.grads) : part.grads;
    const previous = loss;
    loss = previous ? (tf.add(previous, part.loss) as tf.Scalar) : part.loss;
    if (previous) tf.dispose([previous, part.loss]);
  }
  return { loss: loss!, grads: grads! };
}

/**
 * One optimiser update: gradients of the micro-batches, then the method's optimiser at `lr`. The
 * loss stays on the backend (read it back when it is logged). `whileHeld` runs while the step's
 * gradients are held, the step's peak of memory.
 */
export async function optimizerStep(model: AnyModel, setup: MethodSetup, micro: readonly HostBatch[], lr: number, whileHeld?: () => void): Promise<{ loss: tf.Scalar; result: StepResult }> {
  setTraining(model, true);
  const { loss, grads } = stepGradients(model, setup.params, micro);
  whileHeld?.();
  const result = await setup.optimizer.step(grads, lr);
  tf.dispose([...grads.values()]);
  return { loss, result };
}

/** a + b by key, disposing both inputs. */
function sumInto(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>): Map<string, tf.Tensor> {
  const out = new Map([...a].map(([k, t]) => [k, tf.add(t, b.get(k)!)] as const));
  tf.dispose([...a.values(), ...b.values()]);
  return out;
}
