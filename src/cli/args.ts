// Command-line options: a typed spec per command, parsed with node:util's parseArgs (strict), merged
// over a --config JSON file (flags win), rendered as --help. Every mistake is a UsageError (exit 2).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '../train/errors.js';
import { QUANTIZE_MODES, type QuantizeMode } from '../quant/formats.js';

export type OptionType = 'string' | 'int' | 'number' | 'boolean';

export interface OptionSpec {
  /** camelCase key; the flag is its kebab-case (`maxSteps` → --max-steps). */
  readonly key: string;
  readonly type: OptionType;
  readonly help: string;
  /** Shown in --help; the value itself comes from the command (often a per-method default). */
  readonly default?: string;
  readonly required?: boolean;
  /** Value placeholder in --help ("DIR", "N"). */
  readonly arg?: string;
}

export interface CliIO {
  readonly out: (line: string) => void; // results (stdout)
  readonly err: (line: string) => void; // messages (stderr)
}

export interface Command {
  readonly name: string;
  /** One line for `lorapro --help`. */
  readonly brief: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: readonly OptionSpec[];
  /** Sub-commands taken from the first argument (`bench paper`); run() gets it as values.subcommand. */
  readonly subcommands?: readonly string[];
  /** Accepts --config FILE.json with the same keys (camelCase or kebab-case). */
  readonly configFile?: boolean;
  readonly examples?: readonly string[];
  /** Returns the exit code: 0 ok, 1 the run failed. Usage errors are thrown. */
  run(values: Record<string, unknown>, io: CliIO): Promise<number>;
}

/** The exit-code rule, as --help states it. */
export const EXIT_CODES = 'Exit codes: 0 ok; 2 anything you can fix by changing the input, the options, the files or the file system (the message names the path); 1 a failure of the run itself; 130 stopped by Ctrl-C (a checkpoint written).';

export const flagOf = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const keyOf = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** --backend, shared by every command that runs the model. */
/** --quantize on train, compare, eval and generate (engine/frozen.ts, docs/ARCHITECTURE.md). */
export const QUANTIZE_OPTION: OptionSpec = {
  key: 'quantize',
  type: 'string',
  arg: 'TYPE',
  help: 'the frozen base under adapters (Llama family): none (the checkpoint dtype, outside the wasm heap on the native engine), int8 (per-row), nf4 (QLoRA\'s 4-bit NormalFloat, blocks of 64: 0.5625 bytes per value) or nf4-dq (nf4 with QLoRA\'s double-quantized absmax: 0.516 bytes per value); block linear layers only, not embeddings or the LM head (default: none; eval and generate: as the adapter was trained)',
};

/** --quantize's value for eval and generate: given, or 'auto' (as the adapter's run.json says, the frozen tier where it saves memory). */
export function quantizeOption(value: unknown): QuantizeMode | 'auto' {
  if (value === undefined) return 'auto';
  if (typeof value !== 'string' || !(QUANTIZE_MODES as readonly string[]).includes(value)) throw new UsageError(`--quantize must be one of ${QUANTIZE_MODES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as QuantizeMode;
}

/** --matmul-precision on train, compare, eval and generate (engine/native.ts MatmulPrecision). */
export const MATMUL_OPTION: OptionSpec = {
  key: 'matmulPrecision',
  type: 'string',
  arg: 'P',
  help: 'products with a bf16 frozen base on the native engine: f32 (the weight widened to float32) or bf16 (the activations rounded to bf16, products summed in float32 with AVX512_BF16: about twice as fast; elsewhere f32 runs, with a note) (default: $LORAPRO_MATMUL, else f32)',
};

export const BACKEND_OPTION: OptionSpec = { key: 'backend', type: 'string', arg: 'NAME', help: 'engine: native (C++ kernels on wasm), wasm, cpu or webgpu (a GPU through the optional `webgpu` package; without it, the default) (default: $LORAPRO_BACKEND, else native where it was built, else wasm)' };


function convert(spec: OptionSpec, raw: string | boolean): unknown {
  const flag = `--${flagOf(spec.key)}`;
  if (spec.type === 'boolean' || spec.type === 'string') return raw;
  const text = String(raw).trim();
  const value = Number(text);
  if (spec.type === 'int' && !/^[+-]?\d+$/.test(text)) throw new UsageError(`${flag} must be an integer, got "${raw}"`);
  if (text === '' || !Number.isFinite(value)) throw new UsageError(`${flag} must be a number, got "${raw}"`);
  return value;
}

/** Values of the flags in `argv` (only those given), typed per the spec. */
export function parseFlags(argv: readonly string[], command: Command): Record<string, unknown> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const o of command.options) options[flagOf(o.key)] = { type: o.type === 'boolean' ? 'boolean' : 'string' };
  if (command.configFile) options.config = { type: 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify a positional argument.*$/s, '')}\nrun "lorapro ${command.name} --help" for the options`);
  }
  const out: Record<string, unknown> = {};
  for (const [flag, raw] of Object.entries(parsed.values)) {
    if (raw === undefined) continue;
    const spec = command.options.find((o) => flagOf(o.key) === flag);
    out[spec ? spec.key : keyOf(flag)] = spec ? convert(spec, raw as string | boolean) : raw;
  }
  return out;
}

/** The options of a --config JSON file, keys normalised to camelCase. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--config: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config: ${path} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UsageError(`--config: ${path} must hold a JSON object of options`);
  return Object.fromEntries(Object.entries(json).map(([k, v]) => [keyOf(k.replace(/^--/, '')), v]));
}

/**
 * Flags over the --config file; then required options are checked. Unknown config keys are
 * errors naming the file.
 */
export function resolveOptions(argv: readonly string[], command: Command): Record<string, unknown> | 'help' {
  const flags = parseFlags(argv, command);
  if (flags.help) return 'help';
  // --config is an options file only for commands that accept one (`pretrain` has its own --config).
  const { config, ...rest } = flags;
  const given = command.configFile ? rest : flags;
  const fromFile = command.configFile && typeof config === 'string' ? readConfigFile(config) : {};
  const known = new Set(command.options.map((o) => o.key));
  const unknown = Object.keys(fromFile).filter((k) => !known.has(k));
  if (unknown.length) throw new UsageError(`--config ${config}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; run "lorapro ${command.name} --help" for the options`);
  const values = { ...fromFile, ...given };
  for (const o of command.options) {
    if (o.required && values[o.key] === undefined) throw new UsageError(`missing --${flagOf(o.key)} (${o.help}); run "lorapro ${command.name} --help"`);
  }
  return values;
}

/** A comma-separated flag value as a list of non-empty items. */
export function listOf(value: unknown, flag: string): string[] {
  const items = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : [];
  const list = items.map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new UsageError(`${flag} must be a comma-separated list, got ${JSON.stringify(value)}`);
  return list;
}

export function renderHelp(command: Command): string {
  const rows = command.options.map((o) => {
    const left = `  --${flagOf(o.key)}${o.type === 'boolean' ? '' : ` ${o.arg ?? (o.type === 'string' ? 'VALUE' : 'N')}`}`;
    const extra = [o.required ? 'required' : '', o.default !== undefined ? `default ${o.default}` : ''].filter(Boolean).join(', ');
    return [left, `${o.help}${extra ? ` (${extra})` : ''}`];
  });
  if (command.configFile) rows.push(['  --config FILE', 'read options from a JSON file (keys as the flags, camelCase or kebab-case; paths relative to the current folder); flags win']);
  rows.push(['  --help', 'show this help']);
  const width = Math.min(34, Math.max(...rows.map((r) => r[0].length)) + 2);
  const lines = rows.map(([l, r]) => (l.length + 2 > width ? `${l}\n${' '.repeat(width)}${r}` : `${l.padEnd(width)}${r}`));
  const examples = command.examples?.length ? `\n\nExamples:\n${command.examples.map((e) => `  ${e}`).join('\n')}` : '';
  return `Usage: ${command.usage}\n\n${command.summary}\n\nOptions:\n${lines.join('\n')}${examples}\n\n${EXIT_CODES}`;
}
