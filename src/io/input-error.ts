// The error of an input file lorapro cannot use as it is: missing, malformed, or not fitting the
// model it belongs to. The fix is in the file (or in the path given), not in the run, so the CLI
// answers it as bad input (exit code 2) without the train layer knowing every io module's checks.

/** A file that cannot be used as it is; `file` is its path, and the message names it. */
export class InputFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'InputFileError';
  }
}
