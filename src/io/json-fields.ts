// Typed reads of the fields of one parsed JSON object (a config.json, a tokenizer_config.json, or an
// object nested in one). Every error names the source file, the key and the bad value, so a user can
// find and fix the line: `…/config.json: "n_head" must be a positive integer, got "12"`.
import { InputFileError } from './input-error.js';

export type JsonObject = Record<string, unknown>;

/** A value as it appeared in the JSON, for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Refuses anything but a JSON object, naming what it should have been. */
export function asJsonObject(value: unknown, source: string, what: string): JsonObject {
  if (!isJsonObject(value)) throw new InputFileError(source, `${source}: ${what} must be a JSON object, got ${describeValue(value)}`);
  return value;
}

/** A key, or a key with aliases tried in order (e.g. GPT-2's `n_embd` / `hidden_size`). */
export type Keys = string | readonly string[];

export class JsonFields {
  /** @param prefix shown before keys of a nested object, e.g. `rope_scaling.` */
  constructor(
    readonly obj: JsonObject,
    readonly source: string,
    readonly prefix = '',
  ) {}

  /** The first of `keys` present with a non-null value. */
  keyOf(keys: Keys): string | undefined {
    const list = typeof keys === 'string' ? [keys] : keys;
    return list.find((k) => this.obj[k] !== undefined && this.obj[k] !== null);
  }

  has(keys: Keys): boolean {
    return this.keyOf(keys) !== undefined;
  }

  fail(key: string, expected: string, value: unknown): never {
    throw new InputFileError(this.source, `${this.source}: "${this.prefix}${key}" must be ${expected}, got ${describeValue(value)}`);
  }

  missing(keys: Keys, why = ''): never {
    const list = typeof keys === 'string' ? [keys] : keys;
    const alias = list.length > 1 ? ` (or ${list.slice(1).map((k) => `"${this.prefix}${k}"`).join(', ')})` : '';
    throw new InputFileError(this.source, `${this.source}: missing required key "${this.prefix}${list[0]}"${alias}${why}`);
  }

  /** The value under the first present key, checked by `ok`; `fallback` when absent; error when absent without one. */
  private read<T>(keys: Keys, expected: string, ok: (v: unknown) => boolean, fallback?: T): T {
    const key = this.keyOf(keys);
    if (key === undefined) {
      if (fallback === undefined) this.missing(keys);
      return fallback;
    }
    const value = this.obj[key];
    if (!ok(value)) this.fail(key, expected, value);
    return value as T;
  }

  positiveInt(keys: Keys, fallback?: number): number {
    return this.read(keys, 'a positive integer', (v) => Number.isInteger(v) && (v as number) > 0, fallback);
  }

  optionalPositiveInt(keys: Keys): number | undefined {
    return this.has(keys) ? this.positiveInt(keys) : undefined;
  }

  nonNegativeInt(keys: Keys, fallback?: number): number {
    return this.read(keys, 'a non-negative integer', (v) => Number.isInteger(v) && (v as number) >= 0, fallback);
  }

  optionalNonNegativeInt(keys: Keys): number | undefined {
    return this.has(keys) ? this.nonNegativeInt(keys) : undefined;
  }

  positiveNumber(keys: Keys, fallback?: number): number {
    return this.read(keys, 'a positive number', (v) => typeof v === 'number' && Number.isFinite(v) && v > 0, fallback);
  }

  boolean(keys: Keys, fallback?: boolean): boolean {
    return this.read(keys, 'true or false', (v) => typeof v === 'boolean', fallback);
  }

  string(keys: Keys, fallback?: string): string {
    return this.read(keys, 'a non-empty string', (v) => typeof v === 'string' && v.length > 0, fallback);
  }

  optionalString(keys: Keys): string | undefined {
    return this.has(keys) ? this.string(keys) : undefined;
  }

  optionalObject(keys: Keys): JsonObject | undefined {
    return this.has(keys) ? this.read<JsonObject>(keys, 'a JSON object', isJsonObject) : undefined;
  }

  optionalStringList(keys: Keys): string[] | undefined {
    const ok = (v: unknown): boolean => Array.isArray(v) && v.every((s) => typeof s === 'string');
    return this.has(keys) ? this.read<string[]>(keys, 'a list of strings', ok) : undefined;
  }

  /** A token id, or a list of them (HF allows several eos ids). */
  optionalTokenIds(keys: Keys): number | number[] | undefined {
    const isId = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;
    const ok = (v: unknown): boolean => isId(v) || (Array.isArray(v) && v.length > 0 && v.every(isId));
    return this.has(keys) ? this.read<number | number[]>(keys, 'a token id or a list of token ids', ok) : undefined;
  }
}

/** Freezes an object and everything reachable from it; configs are read-only once validated. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
