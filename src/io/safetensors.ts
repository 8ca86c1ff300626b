// Hugging Face safetensors, read and written in full: an 8-byte little-endian header length N, N
// bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the byte buffer the offsets point into. Every rule of the reference reader is enforced, with
// the file named in each error. This module is the one import path; the work lives in
// safetensors-*.ts (header validation, float conversions, encoding, atomic writes, shards).
// Browser-safe (no node:fs): -parse, -encode, -convert, -tf and what they import; -read, -write
// and -shards need Node.

export {
  DTYPE_BYTES,
  SAFE_DTYPES,
  SafetensorsError,
  type RawTensor,
  type SafeDType,
  type SafetensorsFile,
  type SafetensorsHeader,
  type TensorInfo,
} from './safetensors-dtype.js';
export { MAX_HEADER_BYTES } from './safetensors-header.js';
export { parseSafetensors } from './safetensors-parse.js';
export {
  openSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  type OpenSafetensors,
} from './safetensors-read.js';
export { toFloat32, toInt32 } from './safetensors-convert.js';
export { bf16ToFloat32, f16ToFloat32 } from '../quant/float16.js';
export { serializeSafetensors, type TensorToWrite, type TensorsToWrite, type WriteDType } from './safetensors-encode.js';
export { writeFileAtomic, writeSafetensors, type AtomicWriteHooks } from './safetensors-write.js';
export { tensorsToWrite, toTensor } from './safetensors-tf.js';
export {
  CHECKPOINT_INDEX,
  SINGLE_CHECKPOINT,
  forEachCheckpointTensor,
  listCheckpointFiles,
} from './safetensors-shards.js';
