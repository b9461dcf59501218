import { InvalidArgumentError, type Command } from 'commander';
import { defaultMaxPixels, defaultMinSide, type FolderInfo, type Problem } from '../common/library';
import type { TaskInfo } from '../common/tasks';
import { startCore, type Core } from '../core';
import { describeSummary } from '../services/library-import';
import { normaliseFolderPath } from '../services/library';
import { followTask } from './progress';

/** Quotes a path for a terminal when it holds spaces, quotes or control characters. */
export function quotePath(value: string): string {
  const special = /[\s"'\\$`!*?;&|<>()[\]{}]/.test(value) || [...value].some((char) => char.charCodeAt(0) < 0x20);
  return special ? JSON.stringify(value) : value;
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1) throw new InvalidArgumentError('expected a whole number of at least 1.');
  return number;
}

interface ImportCommandOptions {
  labelsFromFolders?: boolean;
  minSide: number;
  maxPixels: number;
  thumbnails: boolean;
  json?: boolean;
}

/** Every refused file of a folder (the problems list), all pages. */
async function allProblems(core: Core, folderId: number): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await core.handlers.libraryProblems({ folderId, offset, limit: 500 });
    problems.push(...page.items);
    if (problems.length >= page.total || page.items.length === 0) return problems;
  }
}

/** The lines `jigclu import` prints once the import has finished. */
export function formatImportReport(folder: FolderInfo, problems: Problem[]): string {
  const lines = [`${folder.name} (${quotePath(folder.path)})`];
  if (folder.lastScan) lines.push(`  ${describeSummary(folder.lastScan)} in ${folder.lastScan.seconds} s (${folder.lastScan.decoded.toLocaleString('en')} decoded)`);
  lines.push(
    `  In the library: ${folder.images.toLocaleString('en')} images, ${folder.rejected.toLocaleString('en')} rejected, ` +
      `${folder.labelled.toLocaleString('en')} labelled, ${folder.duplicates.toLocaleString('en')} exact duplicates`,
  );
  if (folder.classes.length > 0) {
    lines.push(`  Class folders (${folder.classes.length}): ${folder.classes.map((entry) => `${entry.name} (${entry.images})`).join(', ')}`);
    if (folder.looksLikeClasses && !folder.labelsFromFolders) lines.push('  Run again with --labels-from-folders to use these names as labels.');
  }
  if (problems.length > 0) {
    lines.push(`  Not imported (${problems.length}):`);
    for (const problem of problems) lines.push(`    ${quotePath(problem.relPath)}: ${problem.reason}`);
  }
  return lines.join('\n');
}

/** Registers the library's commands (`jigclu import`) on the program. */
export function registerLibraryCommands(program: Command): void {
  program
    .command('import')
    .description(
      'add a folder of images to the library (or rescan it when it is already there) and import it; ' +
        'every file that is not imported is listed with the reason. Your folder is only read.',
    )
    .argument('<folder>', 'the folder of images')
    .option('--labels-from-folders', 'use the class-folder names (folder/<class>/<images>) as labels')
    .option('--min-side <px>', 'refuse images whose shorter side is below this (new folders)', positiveInteger, defaultMinSide)
    .option('--max-pixels <n>', 'refuse images with more pixels than this (new folders)', positiveInteger, defaultMaxPixels)
    .option('--no-thumbnails', 'do not make the thumbnails now (the app makes them later)')
    .option('--json', 'print the folder and its problems as JSON')
    .action(async (folderArg: string, options: ImportCommandOptions) => {
      const dataDir = program.opts<{ dataDir: string }>().dataDir;
      const core = startCore({ dataDir, mode: 'cli', library: { autoThumbnails: options.thumbnails } });
      try {
        const folderPath = normaliseFolderPath(folderArg);
        const existing = (await core.handlers.libraryFolders({})).find((folder) => folder.path === folderPath);
        let task: TaskInfo;
        let folderId: number;
        if (existing) {
          folderId = existing.id;
          task = await core.handlers.libraryRescan({ folderId });
        } else {
          const added = await core.handlers.libraryAddFolder({ path: folderPath, options: { minSide: options.minSide, maxPixels: options.maxPixels } });
          folderId = added.folder.id;
          task = added.task;
        }
        const final = await followTask(core.hub, core.tasks, task);
        if (final.status === 'failed') throw new Error(final.error ?? 'the import failed');
        if (final.status === 'cancelled') {
          console.error('Import cancelled: what was read so far is kept; run the same command again to go on.');
          process.exitCode = 130;
          return;
        }
        if (options.labelsFromFolders) await core.handlers.libraryUseFolderLabels({ folderId });
        const thumbnails = core.tasks.list().find((entry) => entry.kind === 'thumbnails' && entry.status === 'running');
        if (thumbnails) await followTask(core.hub, core.tasks, thumbnails);
        const folder = (await core.handlers.libraryFolders({})).find((entry) => entry.id === folderId);
        if (!folder) throw new Error('the folder was removed while it was imported');
        const problems = await allProblems(core, folderId);
        console.log(options.json ? JSON.stringify({ folder, problems }, null, 2) : formatImportReport(folder, problems));
      } finally {
        await core.tasks.cancelAll();
        core.close();
      }
    });
}
