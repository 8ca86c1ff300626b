// The TF.js edge of the safetensors modules: RawTensor → tf.Tensor for loading, and tf.Tensor →
// TensorToWrite for saving (the only place values are read back from the backend).

import { tf } from '../engine/tf.js';
import { toFloat32, toInt32 } from './safetensors-convert.js';
import { type RawTensor, show } from './safetensors-dtype.js';
import type { TensorToWrite } from './safetensors-encode.js';

/**
 * A TF.js tensor with `t`'s values: float dtypes → float32, integer dtypes → int32 (I64 outside the
 * int32 range is an error naming the value), BOOL → bool. `name` is used in errors.
 *
 * @example
 *   const w = toTensor(file.tensors.get('h.0.attn.c_attn.weight')!, 'h.0.attn.c_attn.weight');
 */
export function toTensor(t: RawTensor, name = 'tensor'): tf.Tensor {
  switch (t.dtype) {
    case 'F64':
    case 'F32':
    case 'F16':
    case 'BF16':
      return tf.tensor(toFloat32(t, name), t.shape, 'float32');
    case 'BOOL':
      return tf.tensor(new Uint8Array(toInt32(t, name)), t.shape, 'bool');
    default:
      return tf.tensor(toInt32(t, name), t.shape, 'int32');
  }
}

/**
 * Reads TF.js tensors into `TensorToWrite`s: float32 tensors are written as `dtype` (F32 by
 * default), int32 as I32 and bool as BOOL. The tensors are not disposed.
 *
 * @example
 *   await writeSafetensors(path, await tensorsToWrite({ 'lora_A.weight': a }, 'BF16'));
 */
export async function tensorsToWrite(
  named: Map<string, tf.Tensor> | Record<string, tf.Tensor>,
  dtype: 'F32' | 'F16' | 'BF16' = 'F32',
): Promise<Record<string, TensorToWrite>> {
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
    throw new Error(`tensorsToWrite: dtype must be F32, F16 or BF16, got ${show(dtype)}`);
  }
  const out: [string, TensorToWrite][] = [];
  const entries = named instanceof Map ? [...named] : Object.entries(named);
  for (const [name, t] of entries) {
    const shape = [...t.shape];
    if (t.dtype === 'float32') out.push([name, { dtype, shape, data: (await t.data()) as Float32Array }]);
    else if (t.dtype === 'int32') out.push([name, { dtype: 'I32', shape, data: (await t.data()) as Int32Array }]);
    else if (t.dtype === 'bool') out.push([name, { dtype: 'BOOL', shape, data: (await t.data()) as Uint8Array }]);
    else throw new Error(`tensorsToWrite: tensor ${show(name)} has dtype ${t.dtype}; only float32, int32 and bool can be written`);
  }
  return Object.fromEntries(out); // defines own keys, so even "__proto__" stays a tensor name
}
