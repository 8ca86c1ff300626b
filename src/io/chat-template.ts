// Chat templates: the Jinja programs that tokenizer_config.json's `chat_template` (or a
// chat_template.jinja file) holds, rendered with @huggingface/jinja the way transformers'
// `apply_chat_template` renders them: `messages`, `add_generation_prompt` and the special tokens
// (`bos_token`, `eos_token`, ...) in the context.
import { Template } from '@huggingface/jinja';
import { InputFileError } from './input-error.js';
import { describeValue } from './json-fields.js';

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/**
 * The named templates in a `chat_template` value: a string is the "default" template; a list of
 * `{ name, template }` (how transformers saves several) and a `{ name: template }` object are keyed
 * by name. null/undefined give none.
 */
export function parseChatTemplates(value: unknown, source: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value === 'string') return { default: value };
  const out: Record<string, string> = {};
  if (Array.isArray(value)) {
    value.forEach((entry, i) => {
      const { name, template } = (entry ?? {}) as { name?: unknown; template?: unknown };
      if (typeof name !== 'string' || typeof template !== 'string') {
        throw new InputFileError(source, `${source}: "chat_template[${i}]" must be { name: string, template: string }, got ${describeValue(entry)}`);
      }
      out[name] = template;
    });
    return out;
  }
  if (typeof value === 'object') {
    for (const [name, template] of Object.entries(value)) {
      if (typeof template !== 'string') throw new InputFileError(source, `${source}: "chat_template.${name}" must be a string, got ${describeValue(template)}`);
      out[name] = template;
    }
    return out;
  }
  throw new InputFileError(source, `${source}: "chat_template" must be a string or a list of { name, template }, got ${describeValue(value)}`);
}

/** Refuses anything that is not a list of { role: string, content: string }, naming the entry. */
export function checkMessages(messages: unknown): asserts messages is ChatMessage[] {
  if (!Array.isArray(messages)) throw new Error(`applyChatTemplate: messages must be a list, got ${describeValue(messages)}`);
  messages.forEach((m, i) => {
    const { role, content } = (m ?? {}) as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || typeof content !== 'string') {
      throw new Error(`applyChatTemplate: messages[${i}] must be { role: string, content: string }, got ${describeValue(m)}`);
    }
  });
}

/** A parsed chat template; parsing happens once, and a syntax error names where the template came from. */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly text: string,
    readonly source: string,
  ) {
    try {
      this.template = new Template(text);
    } catch (err) {
      throw new InputFileError(source, `${source}: chat template does not parse: ${(err as Error).message}`);
    }
  }

  /** Renders `messages`; `context` supplies bos_token, eos_token and the other variables templates read. */
  render(messages: readonly ChatMessage[], addGenerationPrompt: boolean, context: Record<string, unknown>): string {
    checkMessages(messages);
    try {
      return this.template.render({ ...context, messages, add_generation_prompt: addGenerationPrompt });
    } catch (err) {
      throw new Error(`${this.source}: chat template failed to render: ${(err as Error).message}`);
    }
  }
}
