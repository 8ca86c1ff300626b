#!/usr/bin/env node
// lorapro: the executable. Results go to stdout, messages and progress to stderr.
import type { CliIO } from './args.js';
import { main } from './cli.js';

// A reader that stops early (`lorapro info | head -1`) closes the pipe: that ends the output, not a
// failure, so the command exits quietly with 0 as `cat` does. Without a listener the write error is
// uncaught (a stack trace, and exit code 7 from the wasm runtime's handler).
const closed = (e: NodeJS.ErrnoException) => e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED';
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (!closed(e)) throw e;
  process.exit(0);
});
// Messages to a closed stderr are dropped; the command goes on.
process.stderr.on('error', (e: NodeJS.ErrnoException) => {
  if (!closed(e)) throw e;
});

const io: CliIO = { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) };
process.exitCode = await main(process.argv.slice(2), io);
