// Errors the user can fix by changing the command (exit code 2), apart from failures of a run that
// was set up correctly (exit code 1).
import { InputFileError } from '../io/input-error.js';
import { DatasetError } from '../data/problems.js';

/** A bad option, path or combination of options; the message names the option and the bad value. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A run that does not fit in memory: the message carries the figures and the ways out. */
export class OutOfMemoryError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'OutOfMemoryError';
  }
}

/**
 * True for errors caused by the user's input (options, datasets, and model, tokenizer or adapter
 * files that are missing, malformed or do not fit) rather than by the run.
 */
export function isUsageError(e: unknown): boolean {
  return e instanceof UsageError || e instanceof DatasetError || e instanceof InputFileError;
}
