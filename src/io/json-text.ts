// JSON text → value, naming the file when it is malformed. Pure, for the browser too.
import { InputFileError } from './input-error.js';

/** Parses JSON text, naming the file when it is malformed. */
export function parseJsonText(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputFileError(path, `${path}: not valid JSON (${(err as Error).message})`);
  }
}
