// A folder held in memory: file name → bytes, from files dropped on a page, fetched from a server,
// or read by a test. The browser's counterpart of a model or adapter folder on disk; errors name
// `folder/file` exactly as the Node readers name a path.
import { InputFileError } from './input-error.js';
import { parseJsonText } from './json-text.js';
import { show, type RawTensor } from './safetensors-dtype.js';
import { CHECKPOINT_INDEX, parseIndex, SINGLE_CHECKPOINT } from './safetensors-index.js';
import { parseSafetensors } from './safetensors-parse.js';

/** What a file's bytes may arrive as. */
export type FileBytes = Uint8Array | ArrayBuffer;

export class FileSet {
  private readonly files: Map<string, Uint8Array>;

  /**
   * @param name the folder's name in messages (a dropped folder's name, or a URL).
   * @param files file name → bytes; names may carry the folder ("gpt2/config.json"): only the last
   *   path segment is kept, so a dropped folder and its files look the same.
   */
  constructor(
    readonly name: string,
    files: Iterable<readonly [string, FileBytes]> | Readonly<Record<string, FileBytes>>,
  ) {
    const entries = Symbol.iterator in files ? [...(files as Iterable<readonly [string, FileBytes]>)] : Object.entries(files);
    this.files = new Map(entries.map(([n, b]) => [baseName(n), b instanceof Uint8Array ? b : new Uint8Array(b)]));
  }

  /** `folder/file`, as messages name it. */
  path(file: string): string {
    return `${this.name}/${file}`;
  }

  names(): string[] {
    return [...this.files.keys()];
  }

  has(file: string): boolean {
    return this.files.has(file);
  }

  bytes(file: string): Uint8Array | undefined {
    return this.files.get(file);
  }

  /** The file's bytes; a missing file is an InputFileError naming it. */
  required(file: string, why = ''): Uint8Array {
    const b = this.files.get(file);
    if (!b) throw new InputFileError(this.path(file), `${this.path(file)} not found${why}`);
    return b;
  }

  text(file: string): string | undefined {
    const b = this.files.get(file);
    return b && new TextDecoder('utf-8', { fatal: false }).decode(b);
  }

  /** The parsed JSON of a file, undefined when absent; malformed JSON is an error naming the file. */
  json(file: string): unknown {
    const text = this.text(file);
    return text === undefined ? undefined : parseJsonText(text, this.path(file));
  }
}

function baseName(name: string): string {
  const parts = name.split(/[\\/]/).filter(Boolean);
  return parts[parts.length - 1] ?? name;
}

/**
 * Every tensor of the checkpoint in `files`: model.safetensors, else the shards its index names
 * (each checked to hold what the index assigns to it). Each file is fully validated as it is parsed.
 */
export function checkpointTensorsOf(files: FileSet): (visit: (name: string, raw: RawTensor, file: string) => void) => void {
  const shards = checkpointFilesOf(files);
  return (visit) => {
    const seen = new Map<string, string>();
    for (const { file, expected } of shards) {
      const parsed = parseSafetensors(files.required(file), files.path(file));
      const absent = expected.find((n) => !parsed.tensors.has(n));
      if (absent !== undefined) throw new InputFileError(files.path(file), `${files.path(file)}: tensor ${show(absent)} is listed in ${CHECKPOINT_INDEX} but is not in this shard`);
      for (const [name, raw] of parsed.tensors) {
        const other = seen.get(name);
        if (other !== undefined) throw new InputFileError(files.path(file), `${files.path(file)}: tensor ${show(name)} is also in ${other}`);
        seen.set(name, files.path(file));
        visit(name, raw, files.path(file));
      }
    }
  };
}

function checkpointFilesOf(files: FileSet): { file: string; expected: string[] }[] {
  if (files.has(SINGLE_CHECKPOINT)) return [{ file: SINGLE_CHECKPOINT, expected: [] }];
  const text = files.text(CHECKPOINT_INDEX);
  if (text === undefined) {
    const bin = files.has('pytorch_model.bin') ? ' (pytorch_model.bin is a PyTorch pickle; save the model as safetensors)' : '';
    throw new InputFileError(files.name, `${files.name}: no ${SINGLE_CHECKPOINT} or ${CHECKPOINT_INDEX}; not a safetensors checkpoint folder${bin}`);
  }
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of parseIndex(text, files.path(CHECKPOINT_INDEX))) byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
  return [...byShard].map(([file, expected]) => {
    if (!files.has(file)) throw new InputFileError(files.path(CHECKPOINT_INDEX), `${files.path(CHECKPOINT_INDEX)}: shard ${show(file)} (${expected.length} tensors, e.g. ${show(expected[0])}) is missing from ${files.name}`);
    return { file, expected };
  });
}
