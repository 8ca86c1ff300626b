#!/usr/bin/env node
// lorapro: the executable. Results go to stdout, messages and progress to stderr.
import type { CliIO } from './args.js';
import { main } from './cli.js';

const io: CliIO = { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) };
process.exitCode = await main(process.argv.slice(2), io);
