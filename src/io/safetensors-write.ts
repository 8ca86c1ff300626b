// Writing safetensors files atomically (temp file, fsync, rename) so a crash or a bad value mid-write
// never leaves a half-written checkpoint where a good one used to be. In-memory bytes:
// `serializeSafetensors` in safetensors-encode.ts.

import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { encodeTensor, planSafetensors, type TensorsToWrite } from './safetensors-encode.js';

/** Test seams for `writeFileAtomic`; production callers pass nothing. */
export interface AtomicWriteHooks {
  /** Runs after the temp file is complete and synced, just before it replaces `path`. */
  beforeRename?(tempPath: string): void | Promise<void>;
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten === 0) throw new Error(`writeFileAtomic: the file system accepted no bytes at position ${position + done}`);
    done += bytesWritten;
  }
}

/** Makes the rename itself durable; some platforms cannot open or sync a directory, which is fine. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}

/**
 * An errno error from the temp file, or from a write (which names no file), made to name `path`, the
 * file being written, so that a full disk or a read-only folder is reported as that file.
 */
function naming(e: unknown, path: string, tempPath: string): unknown {
  const err = e as NodeJS.ErrnoException | null;
  if (err !== null && typeof err === 'object' && typeof err.code === 'string' && (err.path === undefined || err.path === tempPath)) err.path = path;
  return e;
}

/**
 * Writes a file through `${path}.tmp-<pid>-<random>`: `write` fills the temp file, which is synced
 * and then renamed over `path`. On any failure the temp file is removed and `path` is untouched;
 * an errno error names `path`.
 */
export async function writeFileAtomic(
  path: string,
  write: (handle: FileHandle, writeAt: (bytes: Uint8Array, position: number) => Promise<void>) => Promise<void>,
  hooks: AtomicWriteHooks = {},
): Promise<void> {
  const tempPath = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let handle: FileHandle;
  try {
    handle = await open(tempPath, 'wx');
  } catch (e) {
    throw naming(e, path, tempPath);
  }
  let closed = false;
  try {
    await write(handle, (bytes, position) => writeAll(handle, bytes, position));
    await handle.sync();
    await handle.close();
    closed = true;
    await hooks.beforeRename?.(tempPath);
    await rename(tempPath, path);
  } catch (e) {
    if (!closed) await handle.close().catch(() => undefined);
    await unlink(tempPath).catch(() => undefined);
    throw naming(e, path, tempPath);
  }
  await syncDirectory(dirname(path));
}

/**
 * Writes a safetensors file atomically, one tensor at a time (no second copy of all the weights).
 *
 * @example
 *   await writeSafetensors('out/adapter_model.safetensors', await tensorsToWrite(loraWeights));
 */
export async function writeSafetensors(
  path: string,
  tensors: TensorsToWrite,
  metadata?: Record<string, string>,
  hooks?: AtomicWriteHooks,
): Promise<void> {
  const plan = planSafetensors(tensors, metadata); // shape errors surface before any file is created
  await writeFileAtomic(
    path,
    async (_handle, writeAt) => {
      await writeAt(plan.prefixAndHeader, 0);
      let offset = plan.prefixAndHeader.length;
      for (const t of plan.tensors) {
        await writeAt(encodeTensor(t), offset);
        offset += t.byteLength;
      }
    },
    hooks,
  );
}
