import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/library';

/**
 * The README's mutation scores come from test/mutation/scores.md (issue 16, item 7): every row of
 * the README's table (target, mutants, caught, score, run time) is the same target's row of the
 * table `npm run test:mutation -- --report` writes, and the README lists every target that has
 * a score there.
 */

interface Row {
  target: string;
  mutants: number;
  caught: number;
  score: string;
  minutes: string;
}

/** The rows of the first Markdown table after the line containing `marker`. */
function tableAfter(text: string, marker: string): string[][] {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.includes(marker));
  expect(start, `a line containing "${marker}"`).toBeGreaterThanOrEqual(0);
  const first = lines.findIndex((line, i) => i > start && line.startsWith('|'));
  const rows: string[][] = [];
  for (let i = first + 2; i < lines.length && lines[i]!.startsWith('|'); i += 1) rows.push(lines[i]!.split('|').slice(1, -1).map((cell) => cell.trim()));
  return rows;
}

/** scores.md: | target | mutated | tests | mutants | killed | timeout | survived | no coverage | disabled | score | run (commit, UTC, time) | */
function scoresFile(text: string): Row[] {
  return tableAfter(text, '# Mutation scores').map((cells) => ({
    target: cells[0]!,
    mutants: Number(cells[3]),
    caught: Number(cells[4]) + Number(cells[5]),
    score: cells[9]!,
    minutes: /(\d+) min/.exec(cells[10]!)?.[1] ?? '?',
  }));
}

/** README: | target | mutated | mutants | caught | score | run time | */
function readmeTable(text: string): Row[] {
  return tableAfter(text, 'Latest scores (`test/mutation/scores.md`').map((cells) => ({
    target: cells[0]!.replace(/`/g, ''),
    mutants: Number(cells[2]),
    caught: Number(cells[3]),
    score: cells[4]!,
    minutes: /(\d+) min/.exec(cells[5]!)?.[1] ?? '?',
  }));
}

describe("the README's mutation scores", () => {
  it('are the rows of test/mutation/scores.md, target by target', () => {
    const scores = scoresFile(fs.readFileSync(path.join(repoRoot, 'test', 'mutation', 'scores.md'), 'utf8'));
    const readme = readmeTable(fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8'));
    expect(scores.length).toBeGreaterThan(0);
    expect(readme.map((row) => row.target).sort()).toEqual(scores.map((row) => row.target).sort());
    for (const row of readme) expect(row).toEqual(scores.find((score) => score.target === row.target));
  });

  it('catch a README row whose figure differs from the file', () => {
    const scores = fs.readFileSync(path.join(repoRoot, 'test', 'mutation', 'scores.md'), 'utf8');
    const first = scoresFile(scores)[0]!;
    const wrong = `Latest scores (\`test/mutation/scores.md\`;\n\n| target | mutated | mutants | caught | score | run time |\n|---|---|---|---|---|---|\n| \`${first.target}\` | x | ${first.mutants} | ${first.caught + 1} | ${first.score} | ${first.minutes} min |\n`;
    expect(readmeTable(wrong)[0]).not.toEqual(first);
  });
});
