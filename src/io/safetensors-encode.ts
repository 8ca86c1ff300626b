// Tensors → safetensors bytes: validates what is to be written, lays the tensors out like the
// reference writer (alignment descending, then name), builds the padded header, and encodes each
// tensor's values to little-endian bytes of its target dtype. No file system here.

import { littleEndianBytes } from './safetensors-bytes.js';
import { DTYPE_BYTES, elementCount, isShape, show } from './safetensors-dtype.js';
import {
  bf16FromFloat32Bits,
  f16FromFloat32Bits,
  float32Bits,
  float32BitsRoundToOdd,
} from '../quant/float16.js';

export type WriteDType = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8' | 'BOOL';

export const WRITE_DTYPES: readonly WriteDType[] = Object.freeze(['F32', 'F16', 'BF16', 'I32', 'I64', 'U8', 'BOOL']);

export interface TensorToWrite {
  /** Defaults by data: Float32Array / number[] → F32, Int32Array → I32, BigInt64Array → I64, Uint8Array → U8. */
  dtype?: WriteDType;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array | BigInt64Array | number[];
}

export type TensorsToWrite = Record<string, TensorToWrite> | Map<string, TensorToWrite>;

export interface PlannedTensor {
  name: string;
  dtype: WriteDType;
  shape: number[];
  data: TensorToWrite['data'];
  byteLength: number;
}

export interface WritePlan {
  prefixAndHeader: Uint8Array; // 8-byte length + space-padded header JSON
  tensors: PlannedTensor[]; // in byte-buffer order
  totalBytes: number;
}

const WHO = 'serializeSafetensors';

function defaultDType(data: TensorToWrite['data']): WriteDType {
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Uint8Array) return 'U8';
  return 'F32';
}

function planTensor(name: string, t: TensorToWrite): PlannedTensor {
  const where = `${WHO}: tensor ${show(name)}`;
  if (name === '__metadata__') throw new Error(`${where}: the name is reserved for the header's metadata`);
  if (typeof t !== 'object' || t === null) throw new Error(`${where}: expected {dtype?, shape, data}, got ${show(t)}`);
  const dtype = t.dtype ?? defaultDType(t.data);
  if (!WRITE_DTYPES.includes(dtype)) throw new Error(`${where}: dtype must be one of ${WRITE_DTYPES.join(', ')}, got ${show(dtype)}`);
  if (!isShape(t.shape)) throw new Error(`${where}: shape must be an array of non-negative integers, got ${show(t.shape)}`);
  const count = elementCount(t.shape);
  if (count === undefined || !Number.isSafeInteger(count * DTYPE_BYTES[dtype])) {
    throw new Error(`${where}: shape ${show(t.shape)} has too many elements`);
  }
  const ok = Array.isArray(t.data) || ArrayBuffer.isView(t.data);
  if (!ok) throw new Error(`${where}: data must be a typed array or number[], got ${show(t.data)}`);
  if (t.data.length !== count) {
    throw new Error(`${where}: data has ${t.data.length} values but shape ${show(t.shape)} needs ${count}`);
  }
  return { name, dtype, shape: [...t.shape], data: t.data, byteLength: count * DTYPE_BYTES[dtype] };
}

/** Validates `tensors` and `metadata` and lays them out; no tensor values are converted yet. */
export function planSafetensors(tensors: TensorsToWrite, metadata: Record<string, string> = {}): WritePlan {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const planned = entries.map(([name, t]) => planTensor(name, t));
  // The reference orders by dtype (wider first, which keeps every tensor aligned), then by name.
  planned.sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new Error(`${WHO}: metadata must be an object of strings, got ${show(metadata)}`);
  }
  const meta = new Map<string, string>([['format', 'pt']]);
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new Error(`${WHO}: metadata[${show(key)}] must be a string, got ${show(value)}`);
    meta.set(key, value);
  }
  // Built by hand: a JS object would enumerate integer-like tensor names ("0", "1") first.
  const parts = [`"__metadata__":{${[...meta].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`];
  let offset = 0;
  for (const t of planned) {
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + t.byteLength}]}`);
    offset += t.byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8; // so the byte buffer starts 8-aligned
  const prefixAndHeader = new Uint8Array(8 + headerLength).fill(0x20, 8);
  new DataView(prefixAndHeader.buffer).setBigUint64(0, BigInt(headerLength), true);
  prefixAndHeader.set(json, 8);
  return { prefixAndHeader, tensors: planned, totalBytes: prefixAndHeader.length + offset };
}

function checkInteger(v: number, i: number, t: PlannedTensor, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new Error(`${WHO}: tensor ${show(t.name)}: value ${v} at index ${i} is not an integer in [${min}, ${max}] as ${t.dtype} requires`);
  }
  return v;
}

/** float32 bits of element i; doubles round to odd so a later 16-bit rounding is exact. */
function floatBitsAt(data: TensorToWrite['data'], i: number): number {
  if (data instanceof Float32Array) return float32Bits(data[i]);
  const v = data[i];
  return float32BitsRoundToOdd(typeof v === 'bigint' ? Number(v) : v);
}

/** The little-endian bytes of one planned tensor (a view of `data` when it is already F32 / I32 / U8). */
export function encodeTensor(t: PlannedTensor): Uint8Array {
  const { data, dtype } = t;
  const n = data.length;
  const num = (i: number): number => {
    const v = data[i];
    return typeof v === 'bigint' ? Number(v) : v;
  };
  switch (dtype) {
    case 'F32': {
      if (data instanceof Float32Array) return littleEndianBytes(data);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = num(i);
      return littleEndianBytes(out);
    }
    case 'F16':
    case 'BF16': {
      const narrow = dtype === 'F16' ? f16FromFloat32Bits : bf16FromFloat32Bits;
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = narrow(floatBitsAt(data, i));
      return littleEndianBytes(out);
    }
    case 'I32': {
      if (data instanceof Int32Array) return littleEndianBytes(data);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = checkInteger(num(i), i, t, -2147483648, 2147483647);
      return littleEndianBytes(out);
    }
    case 'I64': {
      if (data instanceof BigInt64Array) return littleEndianBytes(data);
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(checkInteger(num(i), i, t, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
      return littleEndianBytes(out);
    }
    case 'U8':
    case 'BOOL': {
      const max = dtype === 'U8' ? 255 : 1;
      if (data instanceof Uint8Array && max === 255) return new Uint8Array(data.buffer, data.byteOffset, n);
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = checkInteger(num(i), i, t, 0, max);
      return out;
    }
  }
}

/**
 * The bytes of a safetensors file holding `tensors` (F32 unless a tensor asks for F16/BF16/ints),
 * with `__metadata__` = {"format": "pt", ...metadata}.
 *
 * @example
 *   const bytes = serializeSafetensors({ 'lora_A.weight': { shape: [8, 64], data: a } });
 */
export function serializeSafetensors(tensors: TensorsToWrite, metadata?: Record<string, string>): Uint8Array {
  const plan = planSafetensors(tensors, metadata);
  const out = new Uint8Array(plan.totalBytes);
  out.set(plan.prefixAndHeader, 0);
  let offset = plan.prefixAndHeader.length;
  for (const t of plan.tensors) {
    out.set(encodeTensor(t), offset);
    offset += t.byteLength;
  }
  return out;
}
