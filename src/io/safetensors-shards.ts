// Hugging Face checkpoint directories: a single `model.safetensors`, or shards listed by
// `model.safetensors.index.json` (`weight_map`: tensor name → shard file). Like transformers, the
// single file wins when both exist.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputFileError } from './input-error.js';
import { show, type RawTensor } from './safetensors-dtype.js';
import { parseIndex } from './safetensors-index.js';
import { openSafetensors, readSafetensorsHeader } from './safetensors-read.js';

import { CHECKPOINT_INDEX, SINGLE_CHECKPOINT } from './safetensors-index.js';

export { CHECKPOINT_INDEX, SINGLE_CHECKPOINT } from './safetensors-index.js';

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/**
 * The safetensors files of a checkpoint directory: `[dir/model.safetensors]`, or the shards named by
 * the index, each checked to exist and to hold every tensor the index assigns to it (only headers
 * are read).
 *
 * @example
 *   const files = await listCheckpointFiles('models/gpt2'); // ['models/gpt2/model.safetensors']
 */
export async function listCheckpointFiles(dir: string): Promise<string[]> {
  const single = join(dir, SINGLE_CHECKPOINT);
  const indexPath = join(dir, CHECKPOINT_INDEX);
  let text: string;
  try {
    await readSafetensorsHeader(single);
    return [single];
  } catch (e) {
    if (!isMissing(e)) throw e;
  }
  try {
    text = await readFile(indexPath, 'utf8');
  } catch (e) {
    if (isMissing(e)) throw new InputFileError(dir, `${dir}: no ${SINGLE_CHECKPOINT} or ${CHECKPOINT_INDEX}; not a safetensors checkpoint directory`);
    throw e;
  }
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of parseIndex(text, indexPath)) {
    const names = byShard.get(shard) ?? [];
    names.push(name);
    byShard.set(shard, names);
  }
  const files: string[] = [];
  for (const [shard, names] of byShard) {
    const path = join(dir, shard);
    let header;
    try {
      header = await readSafetensorsHeader(path);
    } catch (e) {
      if (!isMissing(e)) throw e;
      throw new InputFileError(indexPath, `${indexPath}: shard ${show(shard)} (${names.length} tensors, e.g. ${show(names[0])}) is missing: ${path} does not exist`);
    }
    const absent = names.find((name) => !header.tensors.has(name));
    if (absent !== undefined) {
      throw new InputFileError(path, `${path}: tensor ${show(absent)} is listed in ${CHECKPOINT_INDEX} but is not in this shard`);
    }
    files.push(path);
  }
  return files;
}

/**
 * Calls `fn` for every tensor of a checkpoint directory, reading one tensor at a time from one
 * shard at a time, so loading holds at most the model being built plus one tensor. `t.bytes` is
 * the callback's to keep. A tensor name found in two shards is an error.
 *
 * @example
 *   await forEachCheckpointTensor(dir, (name, t) => { weights.set(name, toTensor(t, name)); });
 */
export async function forEachCheckpointTensor(
  dir: string,
  fn: (name: string, t: RawTensor, file: string) => void | Promise<void>,
): Promise<void> {
  const seen = new Map<string, string>();
  for (const file of await listCheckpointFiles(dir)) {
    const reader = await openSafetensors(file);
    try {
      for (const name of reader.header.tensors.keys()) {
        const other = seen.get(name);
        if (other !== undefined) throw new InputFileError(file, `${file}: tensor ${show(name)} is also in ${other}`);
        seen.set(name, file);
        await fn(name, await reader.readTensor(name), file);
      }
    } finally {
      await reader.close();
    }
  }
}
