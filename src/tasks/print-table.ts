// Prints the built-in tasks' sizes, label distributions, majority baselines and pools as the
// Markdown tables in docs/TASKS.md:  node dist/tasks/print-table.js > tables.md
import { BUILTIN_SOURCES, builtinTaskNames, loadBuiltinTask } from './builtin.js';
import { compareText, uniqueTexts } from './split.js';
import { DISTRIBUTION_HEADER, SUMMARY_HEADER, distributionRows, summaryRow } from './summary.js';

const summary = [...SUMMARY_HEADER];
const distribution = [...DISTRIBUTION_HEADER];
for (const name of builtinTaskNames()) {
  const start = performance.now();
  const task = loadBuiltinTask(name);
  console.error(`${name}: first load ${((performance.now() - start) / 1000).toFixed(1)} s`); // stderr keeps the tables reproducible
  summary.push(summaryRow(task));
  distribution.push(...distributionRows(task));
}

// The pools the splits are drawn from (read again: the cache holds only the splits).
const pools = ['| task | items read | distinct texts | by label |', '|---|---:|---:|---|'];
for (const source of BUILTIN_SOURCES) {
  const items = source.read();
  const unique = uniqueTexts(items);
  const counts = new Map<string, number>();
  for (const { label } of unique) counts.set(label, (counts.get(label) ?? 0) + 1);
  const byLabel = [...counts].sort((a, b) => compareText(a[0], b[0])).map(([l, n]) => `${l} ${n}`).join(', ');
  pools.push(`| ${source.name} | ${items.length} | ${unique.length} | ${byLabel} |`);
}
console.log([...summary, '', ...distribution, '', ...pools].join('\n'));
