/**
 * Reads README.md for the README test (test/repo/readme.test.ts): the command lines of its shell
 * code blocks, and every `jigclu` command, option and `npm run` script it names anywhere; then
 * checks the names against `jigclu --help`, `jigclu <command> --help` and package.json's scripts.
 * Not a test file itself: the README test feeds it the real README and a broken one.
 */

/** One command line of a shell code block, as written. */
export interface ReadmeCommand {
  /** 1-based line in README.md. */
  line: number;
  /** The command without its comment. */
  text: string;
  /** The `&&`-separated steps, each split into words as sh would. */
  steps: string[][];
  /** Its trailing comment and the indented comment lines below it. */
  comment: string;
  /** Taken from an "or: <command>" in the comment of the line. */
  alternative: boolean;
}

/** Splits a shell line into words (quotes and backslashes as sh reads them) and its comment. */
export function splitShell(line: string): { words: string[]; comment: string; commentAt: number } {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i += 1) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (ch === '#' && !inWord) {
      return { words, comment: line.slice(i + 1).trim(), commentAt: i };
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in: ${line}`);
  if (inWord) words.push(word);
  return { words, comment: '', commentAt: line.length };
}

/** Splits words at `&&` into steps. */
function steps(words: string[]): string[][] {
  const result: string[][] = [[]];
  for (const word of words) {
    if (word === '&&') result.push([]);
    else result.at(-1)!.push(word);
  }
  return result.filter((step) => step.length > 0);
}

/** Commands a comment offers as equivalents: "or: node out/main/cli.js --help, or npm run jigclu -- --help". */
function alternatives(comment: string): string[] {
  return [...comment.matchAll(/\bor:?\s+((?:npx|npm|node|jigclu)\s[^,;)]*)/g)].map((match) =>
    match[1]!.trim(),
  );
}

const shellFences = new Set(['sh', 'bash', 'shell']);

/** The lines of README.md with whether each is inside a code block and that block's language. */
function classifyLines(markdown: string): { text: string; fence: string | undefined; isFence: boolean }[] {
  let fence: string | undefined;
  return markdown.split('\n').map((text) => {
    const opening = /^\s*```\s*([\w-]*)/.exec(text);
    if (opening) {
      const isOpening = fence === undefined;
      fence = isOpening ? opening[1] || 'text' : undefined;
      return { text, fence: undefined, isFence: true };
    }
    return { text, fence, isFence: false };
  });
}

/**
 * Every command line of README.md's sh/bash/shell code blocks, in order; lines that are only a
 * comment are output or notes (an indented one continues the command above it); commands a
 * comment offers with "or:" are returned after their line as alternatives.
 */
export function readmeCommands(markdown: string): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  classifyLines(markdown).forEach(({ text, fence }, index) => {
    if (!fence || !shellFences.has(fence) || !text.trim()) return;
    const { words, comment, commentAt } = splitShell(text);
    if (!words.length) {
      const last = commands.filter((command) => !command.alternative).at(-1);
      if (/^\s/.test(text) && last && last.line >= index - 3)
        last.comment = `${last.comment} ${comment}`.trim();
      return;
    }
    const line = index + 1;
    commands.push({
      line,
      text: text.slice(0, commentAt).trim(),
      steps: steps(words),
      comment,
      alternative: false,
    });
    for (const other of alternatives(comment)) {
      commands.push({
        line,
        text: other,
        steps: steps(splitShell(other).words),
        comment: '',
        alternative: true,
      });
    }
  });
  return commands;
}

/** The arguments after `jigclu` when words call the jigclu command (npx jigclu, node out/main/cli.js, npm run jigclu --, its bin). */
export function jigcluArgs(words: string[]): string[] | undefined {
  if (words[0] === 'npx' && words[1] === 'jigclu') return words.slice(2);
  if (words[0] === 'jigclu') return words.slice(1);
  if (words[0] === 'node' && words[1] === 'out/main/cli.js') return words.slice(2);
  if (/^(\.\/)?bin\/jigclu\.js$/.test(words[0] ?? '')) return words.slice(1);
  if (words[0] === 'npm' && words[1] === 'run' && words[2] === 'jigclu')
    return words[3] === '--' ? words.slice(4) : [];
  return undefined;
}

/** The jigclu command words run (`pretrain` of `npx jigclu --data-dir d pretrain x`), if they run one. */
export function jigcluCommand(words: string[]): string | undefined {
  const args = jigcluArgs(words) ?? [];
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === '--data-dir') i += 1;
    else if (!args[i]!.startsWith('-')) return args[i];
  }
  return undefined;
}

/** An option as `--help` lists it. */
export interface HelpOption {
  takesValue: boolean;
  choices?: string[];
}

/** What `jigclu --help` and `jigclu <command> --help` list. */
export interface CliHelp {
  global: Map<string, HelpOption>;
  commands: Map<string, Map<string, HelpOption>>;
}

/** The entries of one section ("Options:", "Commands:") of commander's help, wrapped lines joined. */
function helpSection(help: string, title: string): string[] {
  const lines = help.split('\n');
  const start = lines.findIndex((line) => line.trim() === title);
  if (start < 0) return [];
  const entries: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.trim() || !/^\s/.test(line)) break;
    if (/^ {2}\S/.test(line)) entries.push(line.trim());
    else if (entries.length) entries[entries.length - 1] += ` ${line.trim()}`;
  }
  return entries;
}

/** The options of one commander help text. */
export function parseHelpOptions(help: string): Map<string, HelpOption> {
  const options = new Map<string, HelpOption>();
  for (const entry of helpSection(help, 'Options:')) {
    const flags = /^((?:-[\w-]+(?:, )?)+)( [<[][^>\]]+[>\]])?/.exec(entry);
    if (!flags) continue;
    const choices = /\(choices: ((?:"[^"]*"(?:, )?)+)/.exec(entry)?.[1];
    for (const flag of flags[1]!.split(', ')) {
      options.set(flag.trim(), {
        takesValue: Boolean(flags[2]),
        ...(choices ? { choices: [...choices.matchAll(/"([^"]*)"/g)].map((match) => match[1]!) } : {}),
      });
    }
  }
  return options;
}

/** The command names of `jigclu --help`. */
export function parseHelpCommands(help: string): string[] {
  return helpSection(help, 'Commands:')
    .map((entry) => /^([\w-]+)/.exec(entry)?.[1])
    .filter((name): name is string => Boolean(name) && name !== 'help');
}

/** Where a name the README uses comes from, for the failure message. */
interface Mention {
  line: number;
  what: string;
}

/** Checks the options (and their choice values) of one jigclu invocation against the help. */
function checkJigclu(
  args: string[],
  help: CliHelp,
  mention: Mention,
  problems: string[],
): string | undefined {
  let command: string | undefined;
  const known = (name: string): HelpOption | undefined =>
    (command ? help.commands.get(command)?.get(name) : undefined) ?? help.global.get(name);
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    if (arg === '--') break;
    if (arg.startsWith('-') && arg.length > 1) {
      const [name, inline] = arg.split('=', 2) as [string, string | undefined];
      const option = known(name);
      if (!option) {
        problems.push(
          `line ${mention.line}: \`${mention.what}\` names ${name}, which \`jigclu ${command ?? ''}${command ? ' ' : ''}--help\` does not list`,
        );
        continue;
      }
      const value = option.takesValue ? (inline ?? args[i + 1]) : undefined;
      if (option.takesValue && inline === undefined) i += 1;
      checkChoices(name, value, [option], mention, problems);
    } else if (command === undefined) {
      // `jigclu <command> --help`: any command.
      if (/^<.*>$/.test(arg)) return undefined;
      command = arg;
      if (!help.commands.has(command)) {
        problems.push(
          `line ${mention.line}: \`${mention.what}\` runs \`jigclu ${command}\`, a command \`jigclu --help\` does not list`,
        );
        return undefined;
      }
    }
  }
  return command;
}

/** A value written `a|b|c` (or one value) must be among the option's choices, when it has choices. */
function checkChoices(
  name: string,
  value: string | undefined,
  candidates: HelpOption[],
  mention: Mention,
  problems: string[],
): void {
  if (!value || value.startsWith('-') || value.includes('<')) return;
  const withChoices = candidates.filter((option) => option.choices);
  if (!withChoices.length) return;
  const values = value.split('|');
  if (withChoices.some((option) => values.every((v) => option.choices!.includes(v)))) return;
  problems.push(
    `line ${mention.line}: \`${mention.what}\` gives ${name} ${value}, but its choices are ${[...new Set(withChoices.map((option) => option.choices!.join('|')))].join(' / ')}`,
  );
}

/** Paragraphs of prose (outside code blocks): blank lines, list items and table rows start new ones. */
function paragraphs(markdown: string): { line: number; text: string }[] {
  const result: { line: number; text: string }[] = [];
  let current: { line: number; text: string } | undefined;
  classifyLines(markdown).forEach(({ text, fence, isFence }, index) => {
    const breaks = !text.trim() || isFence || fence !== undefined || /^\s*([-*] |\|)/.test(text);
    if (breaks) current = undefined;
    if (!text.trim() || isFence || fence !== undefined) return;
    if (!current) {
      current = { line: index + 1, text };
      result.push(current);
    } else current.text += `\n${text}`;
  });
  return result;
}

/**
 * Every jigclu command, option and npm script README.md names must exist:
 *  - in shell code blocks, each jigclu line's command and options (also those its comment names) in
 *    that command's `--help` (or the global options), option values among the option's choices;
 *  - in prose, each `jigclu <command> ...` code span likewise; each bare `--option` span in one of the
 *    commands its paragraph names (`jigclu knn`, or `knn` alone), or in any command when it names none;
 *  - every `npm run <script>` in package.json's scripts.
 * Returns one line per problem.
 */
export function checkReadmeNames(markdown: string, help: CliHelp, scripts: Record<string, string>): string[] {
  const problems: string[] = [];
  const checkScript = (words: string[], mention: Mention): void => {
    if (words[0] !== 'npm') return;
    const script =
      words[1] === 'run' ? words[2] : words[1] === 'start' || words[1] === 'test' ? words[1] : undefined;
    if (script && !(script in scripts))
      problems.push(
        `line ${mention.line}: \`${mention.what}\` runs the npm script ${script}, which package.json does not have`,
      );
  };
  for (const command of readmeCommands(markdown)) {
    for (const step of command.steps) {
      const mention = { line: command.line, what: step.join(' ') };
      checkScript(step, mention);
      const args = jigcluArgs(step);
      if (!args) continue;
      const sub = checkJigclu(args, help, mention, problems);
      // Options the comment names ("add --json for JSON") belong to the same command.
      const named = [...command.comment.matchAll(/(?<![\w-])(--[a-z][\w-]*)(?: ([\w|-]+))?/g)].flatMap(
        (match) => [match[1]!, ...(match[2] && !match[2].startsWith('-') ? [match[2]] : [])],
      );
      if (sub !== undefined || !args.some((arg) => !arg.startsWith('-')))
        checkJigclu(
          [...(sub ? [sub] : []), ...named],
          help,
          { line: command.line, what: `${mention.what}  # ${command.comment}` },
          problems,
        );
    }
  }
  for (const paragraph of paragraphs(markdown)) {
    const spans = [...paragraph.text.matchAll(/`([^`]+)`/g)].map((match) => {
      const line = paragraph.line + paragraph.text.slice(0, match.index).split('\n').length - 1;
      const what = match[1]!.replace(/\s+/g, ' ');
      return { line, words: splitShell(what.replace(/#/g, ' ')).words, what };
    });
    const named = new Set<string>();
    for (const span of spans) {
      const args = jigcluArgs(span.words);
      const sub = args
        ? checkJigclu(args, help, span, problems)
        : help.commands.has(span.words[0] ?? '') && span.words.length === 1
          ? span.words[0]
          : undefined;
      if (sub) named.add(sub);
      checkScript(span.words, span);
    }
    const candidates = named.size ? [...named] : [...help.commands.keys()];
    for (const span of spans) {
      if (!span.words[0]?.startsWith('--')) continue;
      for (let i = 0; i < span.words.length; i += 1) {
        const name = span.words[i]!.split('=')[0]!;
        if (!name.startsWith('--')) continue;
        const found = [
          help.global.get(name),
          ...candidates.map((command) => help.commands.get(command)?.get(name)),
        ].filter((option): option is HelpOption => Boolean(option));
        if (!found.length) {
          const helps = candidates.map((c) => `\`jigclu ${c} --help\``);
          const where = !named.size
            ? 'no `jigclu <command> --help` lists'
            : helps.length === 1
              ? `${helps[0]} does not list`
              : `none of ${helps.join(', ')} lists`;
          problems.push(`line ${span.line}: \`${span.what}\` names ${name}, which ${where}`);
          continue;
        }
        checkChoices(name, span.words[i + 1], found, span, problems);
      }
    }
  }
  return problems;
}
