// Hugging Face checkpoint directories: a single `model.safetensors`, or shards listed by
// `model.safetensors.index.json` (`weight_map`: tensor name → shard file). Like transformers, the
// single file wins when both exist.

import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { InputFileError } from './input-error.js';
import { show, type RawTensor } from './safetensors-dtype.js';
import { findDuplicateKey } from './safetensors-json.js';
import { openSafetensors, readSafetensorsHeader } from './safetensors-read.js';

export const SINGLE_CHECKPOINT = 'model.safetensors';
export const CHECKPOINT_INDEX = 'model.safetensors.index.json';

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** weight_map of an index file, validated; throws naming `indexPath`. */
function parseIndex(text: string, indexPath: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputFileError(indexPath, `${indexPath}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InputFileError(indexPath, `${indexPath}: must be a JSON object with a "weight_map", got ${show(json)}`);
  }
  const dup = findDuplicateKey(text);
  if (dup) throw new InputFileError(indexPath, `${indexPath}: duplicate key ${show(dup.key)}${dup.path.length ? ` in ${show(dup.path.join('.'))}` : ''}`);
  const weightMap = (json as Record<string, unknown>).weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new InputFileError(indexPath, `${indexPath}: "weight_map" must be an object mapping tensor names to shard files, got ${show(weightMap)}`);
  }
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    const escapes = typeof shard === 'string' && (isAbsolute(shard) || shard.split(/[\\/]/).includes('..'));
    if (typeof shard !== 'string' || shard === '' || escapes) {
      throw new InputFileError(indexPath, `${indexPath}: weight_map[${show(name)}] must be a shard file name inside the checkpoint directory, got ${show(shard)}`);
    }
    out.set(name, shard);
  }
  if (out.size === 0) throw new InputFileError(indexPath, `${indexPath}: "weight_map" is empty`);
  return out;
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
