// No command writes over a model folder: `merge` and `train` refuse an --out that is the --model
// folder (compared as real paths, so a symlink or a relative path is the same folder), and one that
// already holds a model's files unless `merge --force` says to replace them.
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../train/errors.js';

/** Files that make a folder a Hugging Face model: its config and its weights. */
const MODEL_FILE = /^(config\.json|model(-\d+-of-\d+)?\.safetensors|model\.safetensors\.index\.json)$/;

/** The model files in `dir` (none when it does not exist or is not a folder). */
export function modelFilesIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => MODEL_FILE.test(f)).sort();
  } catch {
    return [];
  }
}

/** Whether `a` and `b` are one folder (through symlinks; paths that do not exist compare resolved). */
export function sameFolder(a: string, b: string): boolean {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  return real(a) === real(b);
}

/** Throws a UsageError when `out` is the `model` folder: writing there would replace the base model. */
export function refuseModelAsOut(out: string, model: string): void {
  if (sameFolder(out, model)) throw new UsageError(`--out ${out} is the --model folder; writing there would replace the base model. Choose a new folder for --out`);
}

/**
 * Throws a UsageError when `out` is the `model` folder or, unless `force`, already holds a model's
 * files; `forceFlag` is the option that allows the second, if the command has one.
 */
export function refuseModelOverwrite(out: string, model: string, o: { force?: boolean; forceFlag?: string } = {}): void {
  refuseModelAsOut(out, model);
  const files = modelFilesIn(out);
  if (files.length > 0 && !o.force) {
    const way = o.forceFlag ? `, or pass ${o.forceFlag} to replace them` : '';
    throw new UsageError(`--out ${out} already holds a model (${files.join(', ')}); writing there would replace it. Choose a new folder for --out${way}`);
  }
}
