import { writeFileAtomic } from './safetensors-write.js';

/** Writes UTF-8 text through a temp file and a rename, so a crash never leaves half a file. */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  await writeFileAtomic(path, async (_handle, writeAt) => writeAt(bytes, 0));
}

/** Pretty JSON with a trailing newline, written atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeTextAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
