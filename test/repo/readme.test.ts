import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../main/cli/program';
import { repoRoot, dataset } from '../helpers/library';
import {
  checkReadmeNames,
  parseHelpCommands,
  parseHelpOptions,
  readmeCommands,
  type CliHelp,
} from '../helpers/readme-parse';
import { disposeContext, prepareContext, type RunContext } from '../helpers/readme-context';
import { placeholders, runLine, type LineResult } from '../helpers/readme-run';

/**
 * Every command in README.md runs as written (issue 14): each command line of its shell code blocks
 * runs against a copy of the repository, a temporary HOME (so the default data folder is
 * temporary) and images of ../shared/datasets (tiny, cifar10-dev), with the README's placeholders mapped to real
 * paths and long runs shortened (test/helpers/readme-run.ts); each must exit 0 without "unknown
 * option". Every jigclu command, option and npm script the README names anywhere must exist
 * (`--help`, package.json). Both checks are shown to fail on a README with a wrong flag.
 */

const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const scripts = (
  JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;

/** The options of `jigclu --help` and of each `jigclu <command> --help`, as commander prints them. */
function cliHelp(): CliHelp {
  const program = buildProgram();
  const commands = new Map(
    parseHelpCommands(program.helpInformation()).map((name) => {
      const command = program.commands.find((candidate) => candidate.name() === name);
      if (!command) throw new Error(`jigclu --help lists ${name}, which the program does not have`);
      return [name, parseHelpOptions(command.helpInformation())];
    }),
  );
  return { global: parseHelpOptions(program.helpInformation()), commands };
}

/** A README with one shell block holding these lines. */
const shellBlock = (...lines: string[]): string => ['# Test', '', '```sh', ...lines, '```', ''].join('\n');

/** Top-level folders whose paths the documents name in backticks. */
const repositoryFolders = ['main', 'test', 'renderer', 'electron', 'docs', 'scripts', 'scaleout', 'resources', 'bin'];

/**
 * What a document (README.md or docs/*.md, at `doc` in the repository) names that is not in the
 * repository: relative links that leave it or lead nowhere, backticked repository paths
 * (`main/engine/nn/resnet.ts`) that do not exist, and ../shared references other than the
 * datasets the tests read.
 */
function missingPaths(doc: string, text: string): string[] {
  const problems: string[] = [];
  for (const match of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
    const target = match[1]!;
    if (/^[a-z]+:/i.test(target)) continue;
    const file = path.resolve(repoRoot, path.dirname(doc), target);
    if (!file.startsWith(repoRoot + path.sep)) problems.push(`${doc}: the link ${target} leaves the repository`);
    else if (!fs.existsSync(file)) problems.push(`${doc}: the link ${target} leads nowhere`);
  }
  const pathPattern = new RegExp(`\`((?:${repositoryFolders.join('|')})/[\\w./-]*[\\w/])\``, 'g');
  for (const match of text.matchAll(pathPattern)) {
    if (match[1]!.startsWith('test/output/')) continue; // written by the tests, not committed
    if (!fs.existsSync(path.join(repoRoot, match[1]!))) problems.push(`${doc}: ${match[1]} does not exist`);
  }
  // ../shared holds the datasets the tests read: a command may name one; prose names none.
  const prose = text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
  for (const match of text.matchAll(/\.\.\/shared\/[\w./-]*/g)) {
    if (!match[0].startsWith('../shared/datasets/')) problems.push(`${doc}: ${match[0]} is outside the repository`);
  }
  for (const match of prose.matchAll(/\.\.\/shared\/datasets\/[\w./-]*/g)) {
    problems.push(`${doc}: ${match[0]} is named outside a command`);
  }
  return problems;
}

describe('README and docs/ paths', () => {
  it('name only paths inside the repository that exist (../shared only for a dataset in a command)', () => {
    const docs = ['README.md', ...fs.readdirSync(path.join(repoRoot, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
    expect(docs).toContain('docs/architecture.md');
    expect(docs.flatMap((doc) => missingPaths(doc, fs.readFileSync(path.join(repoRoot, doc), 'utf8')))).toEqual([]);
  });

  it("lists every folder of the repository, of main/ and of test/ in its tree ('The repository')", () => {
    const section = readme.slice(readme.indexOf('## The repository'));
    const tree = section.slice(section.indexOf('```'), section.indexOf('```', section.indexOf('```') + 3));
    const folders = (dir: string): string[] =>
      fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && !['node_modules', 'out', 'dist', 'output', 'test-results'].includes(entry.name))
        .map((entry) => entry.name);
    const missing = [
      ...folders('.').map((name) => `${name}/`),
      ...folders('main').map((name) => `main/${name}/`),
      ...folders('test').map((name) => `test/${name}/`),
    ].filter((folder) => !new RegExp(`(^|\\s)${folder.split('/').at(-2)}/`, 'm').test(tree));
    expect(missing).toEqual([]);
  });

  it('fails on a link out of the repository, a path that is not there, or ../shared/docs', () => {
    expect(missingPaths('README.md', 'See [the notes](../shared/docs/x.md), `main/engine/nowhere.ts` and `../shared/docs/y.md`.')).toEqual([
      'README.md: the link ../shared/docs/x.md leaves the repository',
      'README.md: main/engine/nowhere.ts does not exist',
      'README.md: ../shared/docs/x.md is outside the repository',
      'README.md: ../shared/docs/y.md is outside the repository',
    ]);
    expect(missingPaths('docs/a.md', '[up](../README.md) `docs/jigclu-method.md`\n```sh\nnpx jigclu import ../shared/datasets/tiny\n```\n')).toEqual([]);
    expect(missingPaths('docs/a.md', 'Measured on `../shared/datasets/tiny`.')).toEqual(['docs/a.md: ../shared/datasets/tiny is named outside a command']);
  });
});

describe('README names', () => {
  const help = cliHelp();

  it('every jigclu command, option and choice, and every npm script the README names exists', () => {
    expect(help.commands.get('pretrain')?.get('--epochs')).toEqual({ takesValue: true });
    expect(help.commands.get('pretrain')?.get('--preset')?.choices).toEqual([
      'cpu-small',
      'resnet18',
      'paper',
    ]);
    expect(checkReadmeNames(readme, help, scripts)).toEqual([]);
  });

  it('names each wrong command, option, choice or script, in code blocks and in prose', () => {
    const broken = [
      shellBlock(
        'npx jigclu info --jsn                         # a typo',
        'npx jigclu knn <run> --train photos/train --tset photos/test',
        'npx jigclu frobnicate photos/',
        'npx jigclu finetune <run> --train photos/train # (--mode linear-probe|few-shot)',
        'npm run bench:quantity',
        'npx jigclu info --json                        # (add --json for JSON): correct',
      ),
      '`knn` evaluates at the crop size (`--eval-sise` to change it); `--eval-size` is right.',
      '',
      'With `jigclu pretrain` use `--preset cpu-small|resnet50`.',
    ].join('\n');
    const problems = checkReadmeNames(broken, help, scripts);
    expect(problems).toEqual([
      expect.stringMatching(
        /^line 4: `npx jigclu info --jsn` names --jsn, which `jigclu info --help` does not list$/,
      ),
      expect.stringMatching(/^line 5: .* names --tset, which `jigclu knn --help` does not list$/),
      expect.stringMatching(/^line 6: .* runs `jigclu frobnicate`, a command `jigclu --help` does not list$/),
      expect.stringMatching(
        /^line 7: .* gives --mode linear-probe\|few-shot, but its choices are linear-probe\|fine-tune\|both$/,
      ),
      expect.stringMatching(
        /^line 8: `npm run bench:quantity` runs the npm script bench:quantity, which package.json does not have$/,
      ),
      expect.stringMatching(
        /^line 12: `--eval-sise` names --eval-sise, which `jigclu knn --help` does not list$/,
      ),
      expect.stringMatching(
        /^line 14: `--preset cpu-small\|resnet50` gives --preset cpu-small\|resnet50, but its choices are cpu-small\|resnet18\|paper/,
      ),
    ]);
  });
});

describe('README commands', () => {
  let context: RunContext | undefined;
  beforeAll(async () => {
    context = await prepareContext(repoRoot, dataset('tiny'), path.join(dataset('cifar10-dev'), 'test'));
  }, 120_000);
  afterAll(() => {
    if (context) disposeContext(context);
  });

  async function runAll(markdown: string): Promise<LineResult[]> {
    const results: LineResult[] = [];
    for (const command of readmeCommands(markdown)) {
      const result = await runLine(command, context!, (line) => console.log(line));
      if (result.status === 'skipped')
        console.log(`README line ${command.line} not run here: ${result.detail}`);
      results.push(result);
    }
    return results;
  }

  it('every command line of the README runs as written, against temporary folders', async () => {
    console.log(`Placeholders: ${placeholders.map((p) => `${p.text} = ${p.means}`).join('; ')}.`);
    const results = await runAll(readme);
    // The README's lines include a build and the pretraining whose run the later lines use.
    expect(results.length).toBeGreaterThan(15);
    expect(context!.built).toBe(true);
    expect(context!.runs.length).toBeGreaterThan(0);
    const failures = results
      .filter((result) => result.status === 'failed')
      .map((result) => `README line ${result.command.line} \`${result.command.text}\`: ${result.detail}`);
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, 900_000);

  it('fails a README line whose option, command or placeholder is unknown, and passes the correct one', async () => {
    const results = await runAll(
      shellBlock(
        ...(context!.built ? [] : ['npm run build']),
        'npx jigclu info --jsn',
        'npx jigclu info --json',
        'npx jigclu knn --random-init --train photos/train --test photos/test --eval-sise 32',
        'npx jigclu frobnicate photos/',
        'npx jigclu embed <model> photos/ --out embeddings.csv',
      ),
    );
    const byText = new Map(results.map((result) => [result.command.text, result]));
    expect(byText.get('npx jigclu info --json')?.status).toBe('ok');
    for (const text of [
      'npx jigclu info --jsn',
      'npx jigclu knn --random-init --train photos/train --test photos/test --eval-sise 32',
      'npx jigclu frobnicate photos/',
    ]) {
      expect(byText.get(text)?.status, text).toBe('failed');
      expect(byText.get(text)?.detail, text).toMatch(/exit code 1/);
      expect(byText.get(text)?.detail, text).toMatch(
        /unknown (option '--jsn'|option '--eval-sise'|command 'frobnicate')/,
      );
    }
    // A placeholder the table does not know fails before anything runs, naming the table.
    expect(byText.get('npx jigclu embed <model> photos/ --out embeddings.csv')).toMatchObject({
      status: 'failed',
      detail: expect.stringMatching(/the placeholder <model> has no entry in the README test's table/),
    });
  }, 300_000);
});
