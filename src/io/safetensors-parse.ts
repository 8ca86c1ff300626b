// Parsing a safetensors file already in memory. No file system here, so the browser can use it.

import type { RawTensor, SafetensorsFile } from './safetensors-dtype.js';
import { LENGTH_PREFIX_BYTES, parseHeader, readHeaderLength } from './safetensors-header.js';

/**
 * Parses and fully validates a safetensors file held in memory. Tensor bytes are views into `buf`.
 * `source` (usually the file path) starts every error message.
 *
 * @example
 *   const { tensors, metadata } = parseSafetensors(bytes, 'adapter_model.safetensors');
 */
export function parseSafetensors(buf: Uint8Array, source = '<buffer>'): SafetensorsFile {
  const n = readHeaderLength(buf, buf.length, source);
  const header = parseHeader(buf.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + n), buf.length, source);
  const tensors = new Map<string, RawTensor>();
  for (const [name, info] of header.tensors) {
    const [begin, end] = info.dataOffsets;
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset + header.dataStart + begin, end - begin);
    tensors.set(name, { dtype: info.dtype, shape: info.shape, bytes });
  }
  return { tensors, metadata: header.metadata };
}
