// Reading JSON and text files from a model folder. The only io module that touches `fs`; the parsers
// (hf-config, tokenizer) import it lazily so the browser entry never loads it.
import { readFile } from 'node:fs/promises';
import { InputFileError } from './input-error.js';
import { parseJsonText } from './json-text.js';

export { parseJsonText } from './json-text.js';

function isMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The file's text, or undefined when it does not exist. Other read errors name the path. */
export async function readOptionalTextFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw new InputFileError(path, `cannot read ${path}: ${(err as Error).message}`);
  }
}

/** The parsed JSON of a required file; a missing or malformed file is an error naming its path. */
export async function readJsonFile(path: string): Promise<unknown> {
  const text = await readOptionalTextFile(path);
  if (text === undefined) throw new InputFileError(path, `${path} not found`);
  return parseJsonText(text, path);
}

/** The parsed JSON of an optional file, or undefined when it does not exist; malformed is still an error. */
export async function readOptionalJsonFile(path: string): Promise<unknown> {
  const text = await readOptionalTextFile(path);
  return text === undefined ? undefined : parseJsonText(text, path);
}
