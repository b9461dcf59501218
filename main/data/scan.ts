import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Walking a registered folder: which entries are looked at at all, in which order, and what the
 * folder layout says about classes. Nothing here opens a file for writing.
 *
 * - Hidden entries (a leading dot: .DS_Store, AppleDouble `._x.jpg`, .git) and system entries
 *   (Thumbs.db, desktop.ini, __MACOSX, $RECYCLE.BIN, ...) are skipped silently.
 * - Symbolic links to folders are never followed (no loops, nothing outside the folder); links
 *   to files are used when their target is a file inside the folder, and otherwise reported.
 * - Entries are visited in a stable, Unicode-aware order, so two scans list files alike.
 */

/** File names skipped silently wherever they appear (compared case-insensitively). */
const systemFileNames = new Set(['thumbs.db', 'ehthumbs.db', 'ehthumbs_vista.db', 'desktop.ini', 'icon\r', 'zone.identifier']);
/** Folder names skipped silently wherever they appear (compared case-insensitively). */
const systemFolderNames = new Set(['__macosx', '$recycle.bin', 'system volume information', '@eadir', 'lost+found', '.trashes']);

/** True for hidden and system entries that an import skips without a word. */
export function isHiddenOrSystem(name: string, isDirectory: boolean): boolean {
  if (name.startsWith('.') || name.startsWith('~$')) return true;
  const lower = name.toLowerCase();
  return isDirectory ? systemFolderNames.has(lower) : systemFileNames.has(lower);
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

/** A stable, Unicode-aware name order: collation first, code points to break ties. */
export function compareNames(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** A file the walk found. */
export interface WalkedFile {
  /** Path inside the folder, '/'-separated. */
  relPath: string;
  absPath: string;
  size: number;
  mtimeMs: number;
}

/** An entry the walk refuses by itself (a broken or outward symbolic link, an unreadable entry). */
export interface WalkProblem {
  relPath: string;
  kind: 'symlink' | 'unreadable';
  reason: string;
}

export interface WalkResult {
  files: WalkedFile[];
  problems: WalkProblem[];
  /** Hidden and system entries and folder symlinks, skipped silently. */
  ignored: number;
  /** Subfolders that could not be listed ('/'-separated); what is below them is left as it was. */
  unreadableFolders: string[];
}

export interface WalkOptions {
  /** Absolute folders never to descend into (the data folder, when it lies inside). */
  exclude?: string[];
  /** Called now and then with the number of files found so far. */
  onProgress?: (found: number) => void;
  signal?: AbortSignal;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** True when `child` is `parent` or lies inside it (both absolute and normalised). */
export function isInside(parent: string, child: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * Lists every file under `root`, recursively, in a stable order, with size and mtime; see the
 * module comment for what is skipped. The root itself must be a readable folder.
 */
export async function walkFolder(root: string, options: WalkOptions = {}): Promise<WalkResult> {
  const realRoot = await fs.realpath(root);
  const exclude = await Promise.all((options.exclude ?? []).map((dir) => fs.realpath(dir).catch(() => path.resolve(dir))));
  const result: WalkResult = { files: [], problems: [], ignored: 0, unreadableFolders: [] };
  let lastReport = 0;

  async function walk(dir: string, relDir: string): Promise<void> {
    if (options.signal?.aborted) return;
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (relDir === '') throw error;
      result.unreadableFolders.push(relDir);
      result.problems.push({ relPath: relDir, kind: 'unreadable', reason: `folder cannot be read (${errorCode(error)}); its files were not looked at` });
      return;
    }
    entries.sort((a, b) => compareNames(a.name, b.name));
    const files: { name: string; abs: string; rel: string; link: boolean }[] = [];
    const folders: { abs: string; rel: string }[] = [];
    for (const entry of entries) {
      const abs = path.join(dir, entry.name);
      const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
      let isDirectory = entry.isDirectory();
      let isFile = entry.isFile();
      const isLink = entry.isSymbolicLink();
      if (!isDirectory && !isFile && !isLink) {
        // Some file systems do not report the type while listing; ask.
        const stat = await fs.lstat(abs).catch(() => undefined);
        isDirectory = stat?.isDirectory() ?? false;
        isFile = stat?.isFile() ?? false;
        if (!isDirectory && !isFile) {
          if (!stat?.isSymbolicLink()) {
            result.ignored += 1; // sockets, pipes, devices
            continue;
          }
        }
      }
      if (isHiddenOrSystem(entry.name, isDirectory)) {
        result.ignored += 1;
        continue;
      }
      if (isDirectory) {
        if (exclude.some((excluded) => isInside(excluded, abs))) {
          result.ignored += 1;
          continue;
        }
        folders.push({ abs, rel });
      } else if (isFile) files.push({ name: entry.name, abs, rel, link: false });
      else files.push({ name: entry.name, abs, rel, link: true });
    }

    // Stat the files of this folder a few at a time (a folder may hold 100,000 of them).
    const width = 16;
    for (let start = 0; start < files.length; start += width) {
      const slice = files.slice(start, start + width);
      const stats = await Promise.all(
        slice.map(async (file) => {
          try {
            if (file.link) {
              const target = await fs.stat(file.abs).catch((error: unknown) => error as NodeJS.ErrnoException);
              if (target instanceof Error) {
                return { problem: { relPath: file.rel, kind: 'symlink' as const, reason: `broken symbolic link: its target does not exist (${target.code ?? target.message})` } };
              }
              if (target.isDirectory()) return { ignored: true };
              const real = await fs.realpath(file.abs);
              if (!isInside(realRoot, real)) {
                return { problem: { relPath: file.rel, kind: 'symlink' as const, reason: 'symbolic link to a file outside the folder: not imported' } };
              }
              if (!target.isFile()) return { ignored: true };
              return { file: { relPath: file.rel, absPath: file.abs, size: target.size, mtimeMs: target.mtimeMs } };
            }
            const stat = await fs.stat(file.abs);
            return { file: { relPath: file.rel, absPath: file.abs, size: stat.size, mtimeMs: stat.mtimeMs } };
          } catch (error) {
            return { problem: { relPath: file.rel, kind: 'unreadable' as const, reason: `cannot read the file (${errorCode(error)})` } };
          }
        }),
      );
      for (const outcome of stats) {
        if ('file' in outcome && outcome.file) result.files.push(outcome.file);
        else if ('problem' in outcome && outcome.problem) result.problems.push(outcome.problem);
        else result.ignored += 1;
      }
      if (options.onProgress && result.files.length - lastReport >= 500) {
        lastReport = result.files.length;
        options.onProgress(result.files.length);
      }
    }
    for (const folder of folders) await walk(folder.abs, folder.rel);
  }

  await walk(root, '');
  options.onProgress?.(result.files.length);
  return result;
}

/** Split folder names under which the class folders sit (root/train/<class>/...). */
const splitNames = new Set(['train', 'training', 'test', 'testing', 'val', 'valid', 'validation', 'dev', 'eval', 'evaluation', 'holdout']);

/**
 * The class a file's place suggests: its top-level folder (root/<class>/...), or the folder
 * below a split folder (root/train/<class>/...). Deeper folders do not change the class:
 * root/nested/subfolder/x.jpg belongs to 'nested'. Files at the root have none.
 */
export function folderClassOf(relPath: string): string | undefined {
  const folders = relPath.split('/').slice(0, -1);
  const [first, second] = folders;
  if (first === undefined) return undefined;
  if (splitNames.has(first.toLowerCase())) return second;
  return first;
}

/**
 * True when the classes look like a class layout worth offering as labels: at least two
 * classes and at least half of the images inside class folders.
 */
export function looksLikeClassLayout(classCounts: number[], totalImages: number): boolean {
  const classified = classCounts.reduce((sum, count) => sum + count, 0);
  return classCounts.length >= 2 && totalImages > 0 && classified >= totalImages / 2;
}
