// RawTensor bytes → the two element types TF.js computes in: float32 and int32. The results are
// fresh arrays the caller owns, never views into the file buffer.

import { readView } from './safetensors-bytes.js';
import { DTYPE_BYTES, elementCount, show, type RawTensor } from './safetensors-dtype.js';
import { f16ToFloat32BitsTable } from '../quant/float16.js';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Element count of `t`, after checking its bytes match its dtype and shape. */
function checkedCount(t: RawTensor, name: string): number {
  const count = elementCount(t.shape);
  const size = DTYPE_BYTES[t.dtype];
  if (size === undefined) throw new Error(`${name}: unknown dtype ${show(t.dtype)}`);
  if (count === undefined || count * size !== t.bytes.length) {
    throw new Error(`${name}: ${t.bytes.length} bytes do not hold a ${t.dtype} tensor of shape ${show(t.shape)}`);
  }
  return count;
}

/**
 * The values of `t` as float32: F16/BF16 widen exactly, F64 and 64-bit ints round to nearest,
 * smaller ints and BOOL (0/1) convert exactly.
 *
 * @example
 *   const w = toFloat32(file.tensors.get('lm_head.weight')!);
 */
export function toFloat32(t: RawTensor, name = 'tensor'): Float32Array {
  const count = checkedCount(t, name);
  const out = new Float32Array(count);
  switch (t.dtype) {
    case 'F32':
      out.set(readView(t.bytes, Float32Array));
      break;
    case 'F16': {
      const table = f16ToFloat32BitsTable();
      const halves = readView(t.bytes, Uint16Array);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = table[halves[i]];
      break;
    }
    case 'BF16': {
      const halves = readView(t.bytes, Uint16Array);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = halves[i] << 16;
      break;
    }
    case 'F64':
      out.set(readView(t.bytes, Float64Array));
      break;
    case 'I64': {
      const ints = readView(t.bytes, BigInt64Array);
      for (let i = 0; i < count; i++) out[i] = Number(ints[i]);
      break;
    }
    case 'I32':
      out.set(readView(t.bytes, Int32Array));
      break;
    case 'I16':
      out.set(readView(t.bytes, Int16Array));
      break;
    case 'I8':
      out.set(new Int8Array(t.bytes.buffer, t.bytes.byteOffset, count));
      break;
    case 'U8':
      out.set(t.bytes);
      break;
    case 'BOOL':
      for (let i = 0; i < count; i++) out[i] = t.bytes[i] === 0 ? 0 : 1;
      break;
  }
  return out;
}

/**
 * The values of an integer or BOOL tensor as int32. I64 values outside the int32 range are an
 * error naming the value and its index; float dtypes are refused rather than truncated.
 *
 * @example
 *   const ids = toInt32(file.tensors.get('position_ids')!, 'position_ids');
 */
export function toInt32(t: RawTensor, name = 'tensor'): Int32Array {
  const count = checkedCount(t, name);
  const out = new Int32Array(count);
  switch (t.dtype) {
    case 'I64': {
      const ints = readView(t.bytes, BigInt64Array);
      for (let i = 0; i < count; i++) {
        const v = ints[i];
        if (v < INT32_MIN || v > INT32_MAX) {
          throw new Error(`${name}: I64 value ${v} at index ${i} is outside the int32 range [${INT32_MIN}, ${INT32_MAX}]`);
        }
        out[i] = Number(v);
      }
      break;
    }
    case 'I32':
      out.set(readView(t.bytes, Int32Array));
      break;
    case 'I16':
      out.set(readView(t.bytes, Int16Array));
      break;
    case 'I8':
      out.set(new Int8Array(t.bytes.buffer, t.bytes.byteOffset, count));
      break;
    case 'U8':
      out.set(t.bytes);
      break;
    case 'BOOL':
      for (let i = 0; i < count; i++) out[i] = t.bytes[i] === 0 ? 0 : 1;
      break;
    default:
      throw new Error(`${name}: toInt32 needs an integer or BOOL tensor, got ${t.dtype} (use toFloat32)`);
  }
  return out;
}
