// A checkpoint tensor as the values of a float parameter, checked where it is read: its dtype must be
// a float one (an integer tensor is quantized or misplaced data; widening it would make a model that
// loads and computes nonsense), and every value finite (one NaN or Inf weight turns every output NaN,
// which then shows up far away: a "diverging" first step, an eval loss of NaN, generated NUL bytes).
// The scan is one pass over values the load converts anyway.
import { InputFileError } from './input-error.js';
import { toFloat32 } from './safetensors-convert.js';
import type { RawTensor, SafeDType } from './safetensors-dtype.js';

const FLOAT_DTYPES: ReadonlySet<SafeDType> = new Set(['F64', 'F32', 'F16', 'BF16']);

/**
 * `raw`'s values as float32 for the parameter `name` stored in `file`; an integer or BOOL dtype, or
 * a NaN / ±Inf value, is an InputFileError naming the file, the tensor and (for values) the first
 * bad index and how many there are.
 *
 * @example
 *   const w = floatWeights(raw, 'model.norm.weight', 'models/llama/model.safetensors');
 */
export function floatWeights(raw: RawTensor, name: string, file: string): Float32Array {
  if (!FLOAT_DTYPES.has(raw.dtype)) {
    throw new InputFileError(file, `${file}: tensor "${name}" is ${raw.dtype}, but it is a float parameter of the model; lorapro does not convert integer or bool tensors into weights (dequantize a quantized checkpoint, or save it as F32, F16 or BF16)`);
  }
  const values = toFloat32(raw, name);
  let first = -1;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      if (first < 0) first = i;
      count += 1;
    }
  }
  if (first >= 0) {
    const shape = `[${raw.shape.join(', ')}]`;
    throw new InputFileError(file, `${file}: tensor "${name}" ${shape} holds ${values[first]} at flat index ${first} (${count} of ${values.length} values are not finite); every weight must be finite: the file is damaged, or was saved from a run that diverged`);
  }
  return values;
}

/**
 * The same checks as `floatWeights` on a tensor kept as stored (the frozen tier: bf16 / f16 / f32
 * bytes never widened): the dtype, and every value finite, read from the bits (an all-ones exponent)
 * without a float32 copy.
 */
export function checkStoredFloats(raw: RawTensor, name: string, file: string): void {
  if (!FLOAT_DTYPES.has(raw.dtype)) floatWeights(raw, name, file); // throws the dtype message
  if (raw.dtype === 'F64') return void floatWeights(raw, name, file);
  const half = raw.dtype === 'BF16' || raw.dtype === 'F16';
  const mask = raw.dtype === 'BF16' ? 0x7f80 : raw.dtype === 'F16' ? 0x7c00 : 0x7f800000;
  const n = raw.bytes.byteLength / (half ? 2 : 4);
  const aligned = raw.bytes.byteOffset % (half ? 2 : 4) === 0;
  const bytes = aligned ? raw.bytes : raw.bytes.slice();
  const bits = half ? new Uint16Array(bytes.buffer, bytes.byteOffset, n) : new Uint32Array(bytes.buffer, bytes.byteOffset, n);
  for (let i = 0; i < n; i++) {
    if ((bits[i] & mask) === mask) return void floatWeights(raw, name, file); // the full scan names the first bad index and the count
  }
}
