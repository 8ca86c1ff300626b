// The shared vocabulary of the io/safetensors* modules: the dtypes lorapro reads and writes, their
// sizes, the tensor/header types, and the one error class every safetensors failure uses.
import { InputFileError } from './input-error.js';

export type SafeDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element, as the format stores them (little-endian). */
export const DTYPE_BYTES: Readonly<Record<SafeDType, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
});

export const SAFE_DTYPES: readonly SafeDType[] = Object.freeze(Object.keys(DTYPE_BYTES) as SafeDType[]);

/**
 * Dtypes the format defines (safetensors ≥ 0.4) that lorapro does not convert. A file using one is
 * valid but unreadable here, and the error says so instead of calling the dtype unknown.
 */
export const UNSUPPORTED_DTYPES: readonly string[] = Object.freeze([
  'U16', 'U32', 'U64', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64',
]);

export function isSafeDType(x: unknown): x is SafeDType {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, x);
}

/** One tensor's bytes; `bytes` is a view (often into the whole file's buffer), little-endian. */
export interface RawTensor {
  dtype: SafeDType;
  shape: number[];
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, RawTensor>; // in byte-buffer order
  metadata: Record<string, string>; // the header's __metadata__, {} when absent
}

/** A tensor's header entry; offsets are relative to the start of the byte buffer. */
export interface TensorInfo {
  dtype: SafeDType;
  shape: number[];
  dataOffsets: [begin: number, end: number];
}

/** A validated header, read without the tensor bytes. */
export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>; // in byte-buffer order
  metadata: Record<string, string>;
  dataStart: number; // file offset of the byte buffer: 8 + header length
}

/**
 * Every safetensors failure; `source` is the file (or `<buffer>`) and starts the message. Only
 * reading throws it, so it is an input-file error: the file is truncated or malformed.
 */
export class SafetensorsError extends InputFileError {
  readonly source: string;

  constructor(source: string, detail: string) {
    super(source, `${source}: ${detail}`);
    this.name = 'SafetensorsError';
    this.source = source;
  }
}

/**
 * Product of `shape`, multiplied left to right like the reference (`checked_mul` fold), or
 * undefined when an intermediate product is not a safe integer.
 */
export function elementCount(shape: readonly number[]): number | undefined {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) return undefined;
  }
  return n;
}

export function isShape(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Short, bounded rendering of a JSON value for error messages. */
export function show(x: unknown): string {
  let s: string;
  try {
    s = x === undefined ? 'undefined' : JSON.stringify(x);
  } catch {
    s = String(x);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
