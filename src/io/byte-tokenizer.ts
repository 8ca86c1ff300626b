// A byte-level tokenizer.json (GPT-2's byte↔unicode alphabet, BPE with no merges): every UTF-8 byte
// is one token, so any text encodes, nothing is unknown, and no training data is needed.

/** GPT-2's reversible map from bytes to printable unicode characters (`bytes_to_unicode`). */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b); // '!'..'~'
  for (let b = 161; b <= 172; b++) printable.push(b); // '¡'..'¬'
  for (let b = 174; b <= 255; b++) printable.push(b); // '®'..'ÿ'
  const map: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return map;
}

export interface ByteTokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

/**
 * tokenizer.json + tokenizer_config.json for a byte-level vocabulary: ids 0–255 are the bytes,
 * then the special tokens (default `<|endoftext|>` as bos/eos/pad, as GPT-2 fine-tuning does).
 */
export function byteLevelTokenizer(specialTokens: readonly string[] = ['<|endoftext|>']): ByteTokenizerFiles {
  const alphabet = bytesToUnicode();
  const vocab: Record<string, number> = {};
  alphabet.forEach((ch, b) => (vocab[ch] = b));
  const added = specialTokens.map((content, i) => ({ id: 256 + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  for (const t of added) vocab[t.content] = t.id;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const eos = specialTokens[0];
  return {
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: { ...byteLevel, trim_offsets: false },
      decoder: byteLevel,
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
    },
    tokenizerConfig: {
      tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: eos,
      eos_token: eos,
      pad_token: eos,
      unk_token: null,
      model_max_length: 1024,
      clean_up_tokenization_spaces: false,
      add_prefix_space: false,
    },
  };
}
