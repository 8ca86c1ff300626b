// JSON.parse keeps the last of two equal keys without a word, so a header naming a tensor twice
// would silently lose one. This scanner finds repeated keys in text JSON.parse has already accepted.
// It is iterative (an explicit stack) so a deeply nested header cannot overflow the call stack.

export interface DuplicateKey {
  path: string[]; // keys of the enclosing objects, outermost first; [] for the top level
  key: string;
}

interface Frame {
  keys: Set<string> | undefined; // undefined for arrays
  name: string; // key this container sits under in its parent object ('' for arrays' items and the root)
  expectKey: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** End index (exclusive) of the string literal starting at `start` (a quote). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i++;
  }
  return text.length;
}

function decodeKey(literal: string): string {
  return literal.includes('\\') ? (JSON.parse(literal) as string) : literal.slice(1, -1);
}

/** The first key repeated within one object of `text` (valid JSON), or undefined. */
export function findDuplicateKey(text: string): DuplicateKey | undefined {
  const stack: Frame[] = [];
  let pendingKey = '';
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === '"') {
      const end = stringEnd(text, i);
      if (top?.keys && top.expectKey) {
        const key = decodeKey(text.slice(i, end));
        if (top.keys.has(key)) return { path: stack.slice(1).map((f) => f.name), key };
        top.keys.add(key);
        pendingKey = key;
      }
      i = end;
      continue;
    }
    if (c === '{' || c === '[') {
      const name = top?.keys ? pendingKey : '';
      stack.push({ keys: c === '{' ? new Set() : undefined, name, expectKey: c === '{' });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ':' && top) {
      top.expectKey = false;
    } else if (c === ',' && top?.keys) {
      top.expectKey = true;
    }
    i++;
  }
  return undefined;
}
