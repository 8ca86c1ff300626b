// The lorapro command line as a function (main.ts is the executable). Exit codes: 0 ok, 1 the run
// failed, 2 bad usage or input.
import { readFileSync } from 'node:fs';
import { isHeapExhausted, wasmHeapBytes } from '../engine/heap.js';
import { isUsageError, UsageError } from '../train/errors.js';
import { renderHelp, resolveOptions, type CliIO, type Command } from './args.js';
import { benchCommand } from './bench.js';
import { compareCommand } from './compare.js';
import { demoCommand } from './demo.js';
import { evalCommand } from './eval.js';
import { generateCommand } from './generate.js';
import { infoCommand } from './info.js';
import { mergeCommand } from './merge.js';
import { pretrainCommand } from './pretrain.js';
import { studioCommand } from './studio.js';
import { trainCommand } from './train.js';

export const COMMANDS: readonly Command[] = [trainCommand, evalCommand, generateCommand, mergeCommand, compareCommand, infoCommand, pretrainCommand, demoCommand, studioCommand, benchCommand];

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
  return `Usage: lorapro <command> [options]\n\nLoRA and LoRA-Pro fine-tuning of Hugging Face models on TensorFlow.js.\n\nCommands:\n${rows.join('\n')}\n\nRun "lorapro <command> --help" for a command's options.\nExit codes: 0 ok, 1 the run failed, 2 bad usage or input.`;
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
    if (isUsageError(e)) {
      io.err(`lorapro ${name}: ${(e as Error).message}`);
      return 2;
    }
    if (isHeapExhausted(e)) {
      const heap = wasmHeapBytes();
      io.err(`lorapro ${name}: out of memory${heap === undefined ? '' : ` (the wasm heap at ${(heap / 2 ** 30).toFixed(2)} GiB of its 4 GiB ceiling)`}: ${(e as Error).message}\n\`lorapro info --model DIR --method M --batch-size B --max-length T\` estimates what a run needs; a smaller --batch-size or --max-length, --gradient-checkpointing, or a smaller model fit in less`);
      return 2;
    }
    io.err(`lorapro ${name} failed: ${process.env.LORAPRO_DEBUG ? (e as Error).stack : (e as Error).message}`);
    return 1;
  }
}
