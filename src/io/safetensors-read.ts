// Reading safetensors files from disk: the whole file (`readSafetensors`), only the header
// (`readSafetensorsHeader`), or tensor by tensor (`openSafetensors`) so that a shard too large for
// one buffer can still be loaded. Parsing bytes already in memory is safetensors-parse.ts.

import { open, type FileHandle } from 'node:fs/promises';
import {
  SafetensorsError,
  type RawTensor,
  type SafetensorsFile,
  type SafetensorsHeader,
  type TensorInfo,
} from './safetensors-dtype.js';
import { LENGTH_PREFIX_BYTES, parseHeader, readHeaderLength } from './safetensors-header.js';
import { parseSafetensors } from './safetensors-parse.js';

/** Reads `length` bytes at `position`, failing if the file ends first. */
async function readExactly(handle: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  // FileHandle.read may return short counts; 1 GiB chunks also stay under its per-call limit.
  const CHUNK = 1 << 30;
  for (let done = 0; done < into.length; ) {
    const want = Math.min(CHUNK, into.length - done);
    const { bytesRead } = await handle.read(into, done, want, position + done);
    if (bytesRead === 0) throw new SafetensorsError(path, `file ended early while reading byte ${position + done}`);
    done += bytesRead;
  }
}

function allocate(size: number, path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(size);
  } catch {
    throw new SafetensorsError(path, `${what} of ${size} bytes is too large to hold in one buffer`);
  }
}

/**
 * Reads and validates a whole safetensors file.
 *
 * @example
 *   const file = await readSafetensors('out/adapter_model.safetensors');
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const buf = allocate(size, path, 'file');
    await readExactly(handle, buf, 0, path);
    return parseSafetensors(buf, path);
  } finally {
    await handle.close();
  }
}

async function readHeaderFrom(handle: FileHandle, path: string): Promise<SafetensorsHeader> {
  const { size } = await handle.stat();
  const prefix = new Uint8Array(Math.min(size, LENGTH_PREFIX_BYTES));
  await readExactly(handle, prefix, 0, path);
  const n = readHeaderLength(prefix, size, path);
  const headerBytes = new Uint8Array(n);
  await readExactly(handle, headerBytes, LENGTH_PREFIX_BYTES, path);
  return parseHeader(headerBytes, size, path);
}

/** Reads and validates only the header (names, dtypes, shapes, metadata), not the tensor bytes. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const handle = await open(path, 'r');
  try {
    return await readHeaderFrom(handle, path);
  } finally {
    await handle.close();
  }
}

/** An open safetensors file whose tensors are read one at a time, each into its own buffer. */
export interface OpenSafetensors {
  readonly path: string;
  readonly header: SafetensorsHeader;
  readTensor(name: string): Promise<RawTensor>;
  close(): Promise<void>;
}

/** Opens `path` and validates its header; the caller must `close()` it. */
export async function openSafetensors(path: string): Promise<OpenSafetensors> {
  const handle = await open(path, 'r');
  let header: SafetensorsHeader;
  try {
    header = await readHeaderFrom(handle, path);
  } catch (e) {
    await handle.close();
    throw e;
  }
  return {
    path,
    header,
    async readTensor(name: string): Promise<RawTensor> {
      const info: TensorInfo | undefined = header.tensors.get(name);
      if (!info) throw new SafetensorsError(path, `no tensor named ${JSON.stringify(name)}`);
      const [begin, end] = info.dataOffsets;
      const bytes = allocate(end - begin, path, `tensor ${JSON.stringify(name)}`);
      await readExactly(handle, bytes, header.dataStart + begin, path);
      return { dtype: info.dtype, shape: [...info.shape], bytes };
    },
    close: () => handle.close(),
  };
}
