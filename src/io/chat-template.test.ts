import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatTemplate, parseChatTemplates } from './chat-template.js';

const SRC = '/m/tokenizer_config.json';

test('chat_template as a string, a list of { name, template }, an object, or nothing', () => {
  assert.deepEqual(parseChatTemplates('T', SRC), { default: 'T' });
  assert.deepEqual(
    parseChatTemplates(
      [
        { name: 'default', template: 'D' },
        { name: 'rag', template: 'R' },
      ],
      SRC,
    ),
    { default: 'D', rag: 'R' },
  );
  assert.deepEqual(parseChatTemplates({ default: 'D' }, SRC), { default: 'D' });
  assert.deepEqual(parseChatTemplates(undefined, SRC), {});
  assert.deepEqual(parseChatTemplates(null, SRC), {});
});

test('malformed chat_template values are refused naming the file and entry', () => {
  assert.throws(() => parseChatTemplates([{ name: 'default' }], SRC), /\/m\/tokenizer_config\.json: "chat_template\[0\]" must be \{ name: string, template: string \}, got \{"name":"default"\}/);
  assert.throws(() => parseChatTemplates(3, SRC), /"chat_template" must be a string or a list of \{ name, template \}, got 3/);
  assert.throws(() => parseChatTemplates({ default: 1 }, SRC), /"chat_template\.default" must be a string, got 1/);
});

test('ChatML template (Qwen2) renders with the generation prompt', () => {
  // Qwen2's template without the default system prompt and tool branches.
  const chatml =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const t = new ChatTemplate(chatml, SRC);
  const messages = [{ role: 'user', content: 'Hi' }];
  assert.equal(t.render(messages, true, {}), '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(t.render(messages, false, {}), '<|im_start|>user\nHi<|im_end|>\n');
});

test('raise_exception in a template surfaces with the source named', () => {
  const t = new ChatTemplate("{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}ok", SRC);
  assert.equal(t.render([{ role: 'user', content: 'x' }], false, {}), 'ok');
  assert.throws(() => t.render([{ role: 'assistant', content: 'x' }], false, {}), /\/m\/tokenizer_config\.json: chat template failed to render: .*first message must be from the user/);
});
