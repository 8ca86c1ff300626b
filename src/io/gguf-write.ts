// GGUF v3 files (ggml's docs/gguf.md, gguf-py's GGUFWriter): magic "GGUF", version 3, tensor count
// and key-value count (u64), the key-values, the tensor infos (name, dims innermost first, ggml type,
// offset into the data section), zero padding to the alignment (32), then each tensor's bytes, each
// starting on an aligned offset. Little-endian. The header is planned whole (names, shapes, types:
// sizes follow), then tensors are produced and written one at a time through a temp file that is
// renamed into place, so a model is never held twice and a failure leaves no partial file.
import { GGML_TYPES, ggmlBytes, rowFits, type GgmlType } from '../quant/ggml-type-traits.js';
import { writeFileAtomic } from './safetensors-write.js';

export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** gguf_type of a scalar or array element. */
const VALUE_TYPE = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
type ScalarType = 'u32' | 'i32' | 'f32' | 'u64' | 'bool' | 'string';

export type GgufKv =
  | { readonly key: string; readonly type: 'string'; readonly value: string }
  | { readonly key: string; readonly type: 'bool'; readonly value: boolean }
  | { readonly key: string; readonly type: 'u32' | 'i32' | 'f32' | 'u64'; readonly value: number }
  | { readonly key: string; readonly type: 'array'; readonly of: 'string'; readonly value: readonly string[] }
  | { readonly key: string; readonly type: 'array'; readonly of: 'u32' | 'i32' | 'f32'; readonly value: readonly number[] };

/** One tensor of the file: `dims` innermost first (a [out, in] matrix is [in, out]). */
export interface GgufTensorInfo {
  readonly name: string;
  readonly dims: readonly number[];
  readonly type: GgmlType;
}

export interface GgufPlan {
  readonly header: Uint8Array; // through the padding before the data section
  readonly offsets: readonly number[]; // each tensor's offset in the data section
  readonly sizes: readonly number[]; // each tensor's bytes
  readonly fileSize: number;
}

const align = (n: number): number => Math.ceil(n / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;

/** A little-endian byte buffer that grows as values are appended. */
class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  scalar(type: ScalarType, v: number | boolean | string): void {
    this.reserve(8);
    if (type === 'string') return this.string(v as string);
    if (type === 'u32') this.view.setUint32(this.length, v as number, true);
    else if (type === 'i32') this.view.setInt32(this.length, v as number, true);
    else if (type === 'f32') this.view.setFloat32(this.length, v as number, true);
    else if (type === 'u64') return this.u64(v as number);
    else this.view.setUint8(this.length, v ? 1 : 0);
    this.length += type === 'bool' ? 1 : 4;
  }
  string(s: string): void {
    const bytes = new TextEncoder().encode(s);
    this.u64(bytes.length);
    this.bytes(bytes);
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function checkValue(kv: GgufKv): void {
  const ok = (t: string, v: unknown): boolean =>
    t === 'string' ? typeof v === 'string'
      : t === 'bool' ? typeof v === 'boolean'
        : t === 'f32' ? typeof v === 'number'
          : t === 'i32' ? Number.isInteger(v) && (v as number) >= -(2 ** 31) && (v as number) < 2 ** 31
            : t === 'u32' ? Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32
              : Number.isSafeInteger(v) && (v as number) >= 0;
  const bad = kv.type === 'array' ? kv.value.findIndex((v) => !ok(kv.of, v)) : ok(kv.type, kv.value) ? -1 : 0;
  if (bad >= 0) throw new Error(`GGUF key ${kv.key}: ${JSON.stringify(kv.type === 'array' ? kv.value[bad] : kv.value)} is not a ${kv.type === 'array' ? `${kv.of} (item ${bad})` : kv.type}`);
}

/**
 * The header bytes and data layout of a GGUF file. Keys must be unique; every tensor's rows must
 * be whole blocks of its type.
 *
 * @example
 *   const plan = planGguf([{ key: 'general.architecture', type: 'string', value: 'llama' }], tensors);
 */
export function planGguf(kvs: readonly GgufKv[], tensors: readonly GgufTensorInfo[]): GgufPlan {
  const sink = new ByteSink();
  sink.bytes(new TextEncoder().encode('GGUF'));
  sink.u32(GGUF_VERSION);
  sink.u64(tensors.length);
  sink.u64(kvs.length);
  const seen = new Set<string>();
  for (const kv of kvs) {
    if (seen.has(kv.key)) throw new Error(`GGUF key ${kv.key} is written twice`);
    seen.add(kv.key);
    checkValue(kv);
    sink.string(kv.key);
    sink.u32(VALUE_TYPE[kv.type]);
    if (kv.type === 'array') {
      sink.u32(VALUE_TYPE[kv.of]);
      sink.u64(kv.value.length);
      for (const v of kv.value) sink.scalar(kv.of, v);
    } else sink.scalar(kv.type, kv.value);
  }
  const offsets: number[] = [];
  const sizes: number[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`GGUF tensor ${t.name} is written twice`);
    names.add(t.name);
    if (t.dims.length === 0 || t.dims.length > 4 || t.dims.some((d) => !Number.isSafeInteger(d) || d <= 0)) throw new Error(`GGUF tensor ${t.name}: bad dims [${t.dims.join(', ')}]`);
    if (!rowFits(t.type, t.dims[0])) throw new Error(`GGUF tensor ${t.name}: rows of ${t.dims[0]} values are not whole ${t.type} blocks of ${GGML_TYPES[t.type].blockSize}`);
    sink.string(t.name);
    sink.u32(t.dims.length);
    for (const d of t.dims) sink.u64(d);
    sink.u32(GGML_TYPES[t.type].id);
    sink.u64(offset);
    offsets.push(offset);
    const size = ggmlBytes(t.type, t.dims.reduce((a, b) => a * b, 1));
    sizes.push(size);
    offset = align(offset + size);
  }
  const headerLength = align(sink.length);
  const header = new Uint8Array(headerLength);
  header.set(sink.done());
  const last = tensors.length ? offsets[offsets.length - 1] + sizes[sizes.length - 1] : 0;
  return { header, offsets, sizes, fileSize: headerLength + last };
}

/** Produces tensor `index`'s bytes (as `GGML_TYPES[type].quantize` gives them); called once per tensor, in order. */
export type TensorBytes = (index: number) => Promise<Uint8Array> | Uint8Array;

/**
 * Writes a GGUF file atomically: the header, then each tensor's bytes as `data` produces them.
 * Overwrites `path` if it exists; callers that must not do so check first.
 */
export async function writeGguf(path: string, kvs: readonly GgufKv[], tensors: readonly GgufTensorInfo[], data: TensorBytes): Promise<void> {
  const plan = planGguf(kvs, tensors); // bad keys and shapes surface before any file is created
  await writeFileAtomic(path, async (_handle, writeAt) => {
    await writeAt(plan.header, 0);
    for (let i = 0; i < tensors.length; i++) {
      const bytes = await data(i);
      if (bytes.length !== plan.sizes[i]) throw new Error(`GGUF tensor ${tensors[i].name}: got ${bytes.length} bytes, a ${tensors[i].type} tensor of dims [${tensors[i].dims.join(', ')}] has ${plan.sizes[i]}`);
      await writeAt(bytes, plan.header.length + plan.offsets[i]);
    }
    // the file ends with the last tensor; earlier gaps are holes the file system reads as zeros
  });
}
