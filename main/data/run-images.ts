import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file';

/**
 * What a pretraining run trains on, kept in its folder (files.json) so that a resumed run
 * trains on the same images: the folders it was given and every file with its size and
 * modification time. Runs started by the app also keep each file's library id.
 */
export interface RunImages {
  /** The folders the images were listed from (absolute), when the run was given folders. */
  folders?: string[];
  files: RunImage[];
}

export interface RunImage {
  path: string;
  /** The image's id in the library (runs started by the app). */
  id?: number;
  size?: number;
  mtimeMs?: number;
}

/** The file list's name inside a run folder. */
export const runImagesFileName = 'files.json';

/** Writes a run's image list (atomically: a crash leaves the old list or the new one). */
export function writeRunImages(runDir: string, images: RunImages): void {
  writeFileAtomic(path.join(runDir, runImagesFileName), JSON.stringify(images));
}

/** A run's image list; undefined when the run has none (started by an older version), an error when it cannot be read. */
export function readRunImages(runDir: string): RunImages | undefined {
  const file = path.join(runDir, runImagesFileName);
  if (!fs.existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`The image list of this run, ${file}, cannot be read (${(error as Error).message}).`, { cause: error });
  }
  const images = parsed as Partial<RunImages>;
  if (!Array.isArray(images.files) || !images.files.every((entry) => typeof entry?.path === 'string')) {
    throw new Error(`The image list of this run, ${file}, is not a list of files.`);
  }
  return { folders: Array.isArray(images.folders) ? images.folders.filter((folder): folder is string => typeof folder === 'string') : undefined, files: images.files };
}

/** How the images now differ from a run's list. */
export interface ImageChanges {
  added: string[];
  removed: string[];
  /** Same path, another size or modification time. */
  changed: string[];
}

/** Compares a run's list with the images found now (by path; size and time where both know them). */
export function compareRunImages(before: RunImage[], now: RunImage[]): ImageChanges {
  const old = new Map(before.map((image) => [image.path, image]));
  const current = new Map(now.map((image) => [image.path, image]));
  const changes: ImageChanges = { added: [], removed: [], changed: [] };
  for (const [file, image] of current) {
    const was = old.get(file);
    if (!was) changes.added.push(file);
    else if ((was.size !== undefined && image.size !== undefined && was.size !== image.size) || (was.mtimeMs !== undefined && image.mtimeMs !== undefined && was.mtimeMs !== image.mtimeMs)) {
      changes.changed.push(file);
    }
  }
  for (const file of old.keys()) if (!current.has(file)) changes.removed.push(file);
  return changes;
}

/** True when nothing was added, removed or changed. */
export function unchanged(changes: ImageChanges): boolean {
  return changes.added.length === 0 && changes.removed.length === 0 && changes.changed.length === 0;
}

/** "3 added (a.png, b.png, c.png), 1 removed (d.png)": what changed, with up to `shown` names of each kind. */
export function describeImageChanges(changes: ImageChanges, shown = 3): string {
  const part = (count: string[], what: string): string | undefined => {
    if (count.length === 0) return undefined;
    const names = count.slice(0, shown).map((file) => path.basename(file));
    return `${count.length} ${what} (${names.join(', ')}${count.length > shown ? ', ...' : ''})`;
  };
  return [part(changes.added, 'added'), part(changes.removed, 'removed'), part(changes.changed, 'changed')].filter(Boolean).join(', ');
}
