// Ctrl-C (SIGINT) and SIGTERM during a run: the first one asks the run to stop after its current
// step and write a checkpoint; a second one quits at once. Exit code 130 either way, as shells use.
import type { CliIO } from './args.js';

export const INTERRUPTED_EXIT = 130;

/**
 * Runs `fn` with a signal that SIGINT / SIGTERM abort; the handlers are removed when it settles.
 *
 * @example
 *   const result = await whileInterruptible(io, (signal) => train(config, { signal }));
 */
export async function whileInterruptible<T>(io: CliIO, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      io.err(`${name} again: quitting now, without a checkpoint of the current step`);
      process.exit(INTERRUPTED_EXIT);
    }
    io.err(`\n${name}: finishing the current step and writing a checkpoint (${name === 'SIGINT' ? 'Ctrl-C' : name} again quits at once)`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The command line to continue an interrupted run: this one with --resume (or `flag`). */
export function resumeCommand(command: string, flag = '--resume'): string {
  const argv = process.argv.slice(2);
  const ours = argv[0] === command; // run through the executable (not in-process, as tests do)
  if (!ours) return `lorapro ${command} ... ${flag} (the same options as before)`;
  const quoted = argv.filter((a) => a !== '--resume' && a !== '--resume-or-start').map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  return `lorapro ${quoted.join(' ')} ${flag}`;
}
