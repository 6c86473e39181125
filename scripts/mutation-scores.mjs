// Per-module mutation scores from Stryker's JSON report (after `npx stryker run`): Stryker's `break`
// threshold judges the total score only, so this fails (exit 1) when any one mutated module is under it.
// Usage: node scripts/mutation-scores.mjs [reports/mutation/mutation.json]
import { readFileSync } from 'node:fs';
import config from '../stryker.config.mjs';

const file = process.argv[2] ?? config.jsonReporter.fileName;
const report = JSON.parse(readFileSync(file, 'utf8'));
const threshold = config.thresholds.break;

// A module is one entry of stryker.config.mjs's `mutate` list: a file, or a glob such as libs/contracts/src/**/*.ts.
const globToRegExp = (glob) =>
  new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*\*\//g, '(?:.*/)?')
      .replace(/\*/g, '[^/]*')}$`,
  );
const modules = config.mutate.filter((entry) => !entry.startsWith('!')).map((entry) => ({ name: entry, pattern: globToRegExp(entry) }));
const moduleOf = (path) => modules.find((m) => m.pattern.test(path))?.name ?? path;

function tally(name, mutants) {
  const count = (status) => mutants.filter((m) => m.status === status).length;
  const killed = count('Killed');
  const timeout = count('Timeout');
  const survived = count('Survived');
  const noCoverage = count('NoCoverage');
  const detected = killed + timeout;
  const valid = detected + survived + noCoverage;
  // Stryker's mutation score: detected / valid (mutants that do not compile, or are ignored, do not count).
  const score = valid === 0 ? null : (100 * detected) / valid;
  return { name, killed, timeout, survived, noCoverage, compileErrors: count('CompileError'), ignored: count('Ignored'), score };
}

const byModule = new Map();
for (const [path, { mutants }] of Object.entries(report.files)) {
  const name = moduleOf(path);
  byModule.set(name, [...(byModule.get(name) ?? []), ...mutants]);
}
const rows = [...byModule].map(([name, mutants]) => tally(name, mutants)).sort((a, b) => a.name.localeCompare(b.name));
const files = Object.entries(report.files)
  .map(([path, { mutants }]) => tally(path, mutants))
  .sort((a, b) => a.name.localeCompare(b.name));

const shown = (score) => (score === null ? 'n/a' : `${score.toFixed(1)}%`);
const table = (title, list) => {
  console.log(`| ${title} | score | killed | timed out | survived | no coverage | did not compile | ignored (static) |`);
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of list) {
    console.log(`| \`${r.name}\` | ${shown(r.score)} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noCoverage} | ${r.compileErrors} | ${r.ignored} |`);
  }
  console.log('');
};
table('module', rows);
table('file', files);

const under = rows.filter((r) => r.score !== null && r.score < threshold);
if (under.length > 0) {
  console.error(`mutation score under ${threshold}% in: ${under.map((r) => `${r.name} (${shown(r.score)})`).join(', ')}`);
  process.exit(1);
}
console.log(`every module scores at least ${threshold}%`);
