// Validation of a safetensors header: every rule of the reference reader (Rust `safetensors` crate,
// `SafeTensors::read_metadata` and `Metadata::validate`), plus duplicate names, which serde would
// also let through. Each rule has its own message, prefixed with the source file.

import {
  DTYPE_BYTES,
  SAFE_DTYPES,
  SafetensorsError,
  UNSUPPORTED_DTYPES,
  elementCount,
  isSafeDType,
  isShape,
  show,
  type SafeDType,
  type SafetensorsHeader,
  type TensorInfo,
} from './safetensors-dtype.js';
import { findDuplicateKey } from './safetensors-json.js';

/** The reference refuses headers above 100 MB (`MAX_HEADER_SIZE`). */
export const MAX_HEADER_BYTES = 100_000_000;
export const LENGTH_PREFIX_BYTES = 8;

const METADATA_KEY = '__metadata__';

/**
 * The header length N from the file's first 8 bytes, checked against the file size.
 * `prefix` may be the whole file or just its start.
 */
export function readHeaderLength(prefix: Uint8Array, fileLength: number, source: string): number {
  if (fileLength < LENGTH_PREFIX_BYTES || prefix.length < LENGTH_PREFIX_BYTES) {
    throw new SafetensorsError(source, `file is ${fileLength} bytes, shorter than the 8-byte header length prefix`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, LENGTH_PREFIX_BYTES);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(source, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const length = Number(n);
  if (LENGTH_PREFIX_BYTES + length > fileLength) {
    throw new SafetensorsError(
      source,
      `header length ${length} runs past the end of the file (only ${fileLength - LENGTH_PREFIX_BYTES} bytes follow the length prefix)`,
    );
  }
  return length;
}

/** Decodes and validates the header JSON (`headerBytes`: exactly N bytes) of a file of `fileLength` bytes. */
export function parseHeader(headerBytes: Uint8Array, fileLength: number, source: string): SafetensorsHeader {
  const json = parseHeaderJson(headerBytes, source);
  const metadata = readMetadata(json[METADATA_KEY], source);
  const infos: [string, TensorInfo][] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name !== METADATA_KEY) infos.push([name, readTensorInfo(name, entry, source)]);
  }
  // The reference sorts by (begin, end) and then requires the ranges to tile the buffer from 0.
  infos.sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  const bufferEnd = checkLayout(infos, source);
  const dataStart = LENGTH_PREFIX_BYTES + headerBytes.length;
  const actual = fileLength - dataStart;
  if (actual > bufferEnd) {
    throw new SafetensorsError(
      source,
      `${actual - bufferEnd} trailing bytes after the last tensor (the byte buffer is ${actual} bytes, tensors end at ${bufferEnd})`,
    );
  }
  if (actual < bufferEnd) {
    throw new SafetensorsError(
      source,
      `file is truncated: tensors end at byte ${bufferEnd} of the byte buffer but it holds only ${actual} (${bufferEnd - actual} bytes missing)`,
    );
  }
  return { tensors: new Map(infos), metadata, dataStart };
}

function parseHeaderJson(headerBytes: Uint8Array, source: string): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(source, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(source, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SafetensorsError(source, `header must be a JSON object, got ${Array.isArray(json) ? 'an array' : show(json)}`);
  }
  if (!text.startsWith('{')) {
    throw new SafetensorsError(source, `header must start with '{' (no leading whitespace), found ${show(text[0])}`);
  }
  const dup = findDuplicateKey(text);
  if (dup) {
    const where = dup.path.length === 0 ? '' : dup.path[0] === METADATA_KEY ? ' in __metadata__' : ` in tensor ${show(dup.path.join('.'))}`;
    const what = dup.path.length === 0 ? 'tensor name' : 'key';
    throw new SafetensorsError(source, `duplicate ${what} ${show(dup.key)}${where}`);
  }
  return json as Record<string, unknown>;
}

function readMetadata(raw: unknown, source: string): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SafetensorsError(source, `__metadata__ must be an object of string values, got ${show(raw)}`);
  }
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') {
      throw new SafetensorsError(source, `__metadata__[${show(key)}] must be a string, got ${show(value)}`);
    }
  }
  // fromEntries defines own properties, so a "__proto__" key stays data rather than a prototype.
  return Object.fromEntries(Object.entries(raw as Record<string, string>));
}

function readTensorInfo(name: string, entry: unknown, source: string): TensorInfo {
  const where = `tensor ${show(name)}`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new SafetensorsError(source, `${where}: entry must be an object with dtype, shape and data_offsets, got ${show(entry)}`);
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (dtype === undefined) throw new SafetensorsError(source, `${where}: missing field "dtype"`);
  if (typeof dtype !== 'string') throw new SafetensorsError(source, `${where}: dtype must be a string, got ${show(dtype)}`);
  checkDType(dtype, where, source);
  if (shape === undefined) throw new SafetensorsError(source, `${where}: missing field "shape"`);
  if (!isShape(shape)) {
    throw new SafetensorsError(source, `${where}: shape must be an array of non-negative integers, got ${show(shape)}`);
  }
  if (offsets === undefined) throw new SafetensorsError(source, `${where}: missing field "data_offsets"`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isShape(offsets)) {
    throw new SafetensorsError(source, `${where}: data_offsets must be [begin, end] of two non-negative integers, got ${show(offsets)}`);
  }
  const [begin, end] = offsets;
  if (begin > end) {
    throw new SafetensorsError(source, `${where}: data_offsets [${begin}, ${end}] run backwards (begin > end)`);
  }
  return { dtype: dtype as SafeDType, shape: [...shape], dataOffsets: [begin, end] };
}

function checkDType(dtype: string, where: string, source: string): void {
  if (isSafeDType(dtype)) return;
  if (UNSUPPORTED_DTYPES.includes(dtype)) {
    throw new SafetensorsError(source, `${where}: dtype ${show(dtype)} is valid safetensors but lorapro does not read it (supported: ${SAFE_DTYPES.join(', ')})`);
  }
  throw new SafetensorsError(source, `${where}: unknown dtype ${show(dtype)} (known: ${SAFE_DTYPES.join(', ')})`);
}

/** Checks sorted entries tile [0, end) with the right sizes (`Metadata::validate`); returns end. */
function checkLayout(infos: readonly [string, TensorInfo][], source: string): number {
  let expected = 0;
  let previous: string | undefined;
  for (const [name, info] of infos) {
    const where = `tensor ${show(name)}`;
    const [begin, end] = info.dataOffsets;
    if (begin !== expected) {
      const range = `data_offsets [${begin}, ${end}]`;
      if (previous === undefined) {
        throw new SafetensorsError(source, `${where}: ${range} do not start at 0 (the first tensor in the byte buffer must begin at offset 0)`);
      }
      const relation = begin < expected ? 'overlap' : `leave a gap of ${begin - expected} bytes after`;
      throw new SafetensorsError(source, `${where}: ${range} ${relation} tensor ${show(previous)}, which ends at ${expected}`);
    }
    const count = elementCount(info.shape);
    const bytes = count === undefined ? undefined : count * DTYPE_BYTES[info.dtype];
    if (bytes === undefined || !Number.isSafeInteger(bytes)) {
      throw new SafetensorsError(source, `${where}: shape ${show(info.shape)} overflows: its element count or byte size is beyond 2^53 - 1`);
    }
    if (end - begin !== bytes) {
      throw new SafetensorsError(
        source,
        `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${info.dtype} ${show(info.shape)} needs ${bytes}`,
      );
    }
    expected = end;
    previous = name;
  }
  return expected;
}
