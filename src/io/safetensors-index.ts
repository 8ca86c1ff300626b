// The index of a sharded Hugging Face checkpoint (`model.safetensors.index.json`: `weight_map`,
// tensor name → shard file), validated. Pure: the folder reader (safetensors-shards.ts) and the
// in-memory file sets of the browser (file-set.ts) both use it.
import { InputFileError } from './input-error.js';
import { show } from './safetensors-dtype.js';
import { findDuplicateKey } from './safetensors-json.js';

export const SINGLE_CHECKPOINT = 'model.safetensors';
export const CHECKPOINT_INDEX = 'model.safetensors.index.json';

/** weight_map of an index file, validated; throws naming `indexPath`. */
export function parseIndex(text: string, indexPath: string): Map<string, string> {
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
    const escapes = typeof shard === 'string' && (/^([\\/]|[A-Za-z]:)/.test(shard) || shard.split(/[\\/]/).includes('..'));
    if (typeof shard !== 'string' || shard === '' || escapes) {
      throw new InputFileError(indexPath, `${indexPath}: weight_map[${show(name)}] must be a shard file name inside the checkpoint directory, got ${show(shard)}`);
    }
    out.set(name, shard);
  }
  if (out.size === 0) throw new InputFileError(indexPath, `${indexPath}: "weight_map" is empty`);
  return out;
}

