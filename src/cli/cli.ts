// The lorapro command line as a function (main.ts is the executable). Exit codes (EXIT_CODES): 0 ok,
// 2 what the user can fix (options, input files, the file system), 1 a failure of the run itself.
import { readFileSync } from 'node:fs';
import { isHeapExhausted, wasmHeapBytes } from '../engine/heap.js';
import { isUsageError, UsageError } from '../train/errors.js';
import { EXIT_CODES, renderHelp, resolveOptions, type CliIO, type Command } from './args.js';
import { benchCommand } from './bench.js';
import { compareCommand } from './compare.js';
import { demoCommand } from './demo.js';
import { fileSystemMessage } from './file-errors.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { generateCommand } from './generate.js';
import { infoCommand } from './info.js';
import { mergeCommand } from './merge.js';
import { pretrainCommand } from './pretrain.js';
import { studioCommand } from './studio.js';
import { trainCommand } from './train.js';

export const COMMANDS: readonly Command[] = [trainCommand, evalCommand, generateCommand, mergeCommand, exportCommand, compareCommand, infoCommand, pretrainCommand, demoCommand, studioCommand, benchCommand];

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 4;
  const rows = COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.brief}`);
  return `Usage: lorapro <command> [options]\n\nLoRA and LoRA-Pro fine-tuning of Hugging Face models on TensorFlow.js.\n\nCommands:\n${rows.join('\n')}\n\nRun "lorapro <command> --help" for a command's options.\n${EXIT_CODES}`;
}

/** Runs one command line and returns its exit code. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(overview());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(overview());
    return 0;
  }
  if (name === '--version') {
    io.out(version());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`lorapro: unknown command "${name}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}`);
    return 2;
  }
  try {
    const sub = command.subcommands && rest[0] !== undefined && !rest[0].startsWith('-') ? rest[0] : undefined;
    const values = resolveOptions(sub === undefined ? rest : rest.slice(1), command);
    if (values === 'help') {
      io.out(renderHelp(command));
      return 0;
    }
    if (command.subcommands) {
      if (sub === undefined || !command.subcommands.includes(sub)) throw new UsageError(`${sub === undefined ? 'a sub-command is needed' : `unknown sub-command "${sub}"`}: ${command.subcommands.map((s) => `lorapro ${name} ${s}`).join(', ')}`);
      values.subcommand = sub;
    }
    return await command.run(values, io);
  } catch (e) {
    return reportFailure(e, name, io);
  }
}

/**
 * Says what went wrong with `lorapro <name>` and returns the exit code: 2 for what the user can fix
 * (usage, input files, a file system that refuses a write), 1 for a failure of the run itself.
 */
export function reportFailure(e: unknown, name: string, io: CliIO): number {
  if (isUsageError(e)) {
    io.err(`lorapro ${name}: ${(e as Error).message}`);
    return 2;
  }
  const refused = fileSystemMessage(e, name);
  if (refused !== undefined) {
    io.err(`lorapro ${name}: ${refused}`);
    return 2;
  }
  if (isHeapExhausted(e)) {
    const heap = wasmHeapBytes();
    io.err(`lorapro ${name}: out of memory${heap === undefined ? '' : ` (the wasm heap at ${(heap / 2 ** 30).toFixed(2)} GiB of its 4 GiB ceiling)`}: ${(e as Error).message}\n\`lorapro info --model DIR --method M --batch-size B --max-length T\` estimates what a run needs; a smaller --batch-size or --max-length, --gradient-checkpointing, --quantize nf4, or a smaller model fit in less`);
    return 2;
  }
  io.err(`lorapro ${name} failed: ${process.env.LORAPRO_DEBUG ? (e as Error).stack : (e as Error).message}`);
  return 1;
}
