import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ProblemKind, ScanSummary } from '../common/library';
import { DecodeError, decodeImage, type DecodeOptions } from '../data/decode';
import { folderClassOf, walkFolder, type WalkedFile } from '../data/scan';
import { extensionMatches, hasImageExtension, sniffBytes, sniffFormat } from '../data/sniff';
import type { FolderRow, ImageRecord, KnownImage, KnownRejected, LibraryRepository } from '../store/library-repository';
import { throwIfCancelled, type TaskContext } from './tasks';

/**
 * Importing (and rescanning) one registered folder.
 *
 * 1. Walk the folder (see main/data/scan.ts for what is skipped), then compare every file with
 *    what the database knows: same size and mtime means unchanged, and the file is not read.
 * 2. Read each new or changed file once (read-only), detect its format from the content, hash
 *    it (SHA-256), and fully decode it (main/data/decode.ts); a known file whose content did not
 *    change, and a new file with the content of a vanished one (a move), need no decode.
 * 3. Store the outcomes in file order, in batches, each batch one transaction: a process killed
 *    mid-way loses at most the batch in flight, and the next scan skips what was committed.
 * 4. Only after the whole folder was processed, forget the files that are gone.
 */

/** What the importer needs from a decoder; injectable so tests can count decodes. */
export type ImageDecoder = (bytes: Buffer, options: DecodeOptions) => Promise<{ width: number; height: number; format: string; notes: string[] }>;

/** The real decoder: a full decode with sharp (main/data/decode.ts). */
export const sharpDecoder: ImageDecoder = (bytes, options) => decodeImage(bytes, options);

export interface ScanDeps {
  repo: LibraryRepository;
  decoder: ImageDecoder;
  /** Files read and decoded at once (sharp runs them on libuv's thread pool). */
  concurrency: number;
  /** Outcomes stored per transaction. */
  batchSize: number;
  /** Folders never to descend into (the data folder, if the user picked a folder around it). */
  exclude: string[];
  /** Called after each committed batch with the hashes whose thumbnails may now be unused. */
  onBatch?: (staleHashes: string[]) => void;
}

type Outcome =
  | { kind: 'image'; file: WalkedFile; record: ImageRecord; previousId?: number; decoded: true }
  | { kind: 'touched'; file: WalkedFile; id: number }
  | { kind: 'moved'; file: WalkedFile; from: KnownImage }
  | { kind: 'rejected'; file: WalkedFile; problem: ProblemKind; reason: string; decoded: boolean }
  | { kind: 'ignored'; file: WalkedFile };

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** Reads a file read-only (O_RDONLY): the user's folders are never written to. */
async function readOnly(file: string): Promise<Buffer> {
  return fs.readFile(file, { flag: 'r' });
}

/**
 * Scans one folder into the library: imports new files, decodes changed ones again, notices
 * moved and deleted ones, records every refused file with its reason. Resumable: run it again
 * after a crash and it carries on where the last committed batch ended.
 */
export async function scanFolder(folder: FolderRow, deps: ScanDeps, task: TaskContext): Promise<ScanSummary> {
  const started = performance.now();
  const { repo } = deps;
  const summary: ScanSummary = { seen: 0, imported: 0, updated: 0, unchanged: 0, moved: 0, removed: 0, rejected: 0, ignored: 0, decoded: 0, seconds: 0 };
  const counts = (): Record<string, number> => ({
    seen: summary.seen,
    imported: summary.imported + summary.updated,
    unchanged: summary.unchanged,
    moved: summary.moved,
    rejected: summary.rejected,
    ignored: summary.ignored,
  });
  const decodeOptions: DecodeOptions = { minSide: folder.min_side, maxPixels: folder.max_pixels };
  const withLabels = folder.labels_from_folders === 1;

  try {
    const stat = await fs.stat(folder.path);
    if (!stat.isDirectory()) throw new Error('it is not a folder');
  } catch (error) {
    throw new Error(
      `The folder ${folder.path} cannot be read (${error instanceof Error && !('code' in error) ? error.message : errorCode(error)}): ` +
        'is the drive connected? Nothing in the library was changed.',
      { cause: error },
    );
  }

  task.progress(0, undefined, `Listing the files of ${folder.name}…`, counts());
  const walked = await walkFolder(folder.path, {
    exclude: deps.exclude,
    signal: task.signal,
    onProgress: (found) => task.progress(0, undefined, `Listing the files of ${folder.name}: ${found.toLocaleString('en')} found`),
  });
  throwIfCancelled(task.signal);
  summary.seen = walked.files.length + walked.problems.length;
  summary.ignored = walked.ignored;

  const knownImages = new Map<string, KnownImage>(repo.knownImages(folder.id).map((row) => [row.rel_path, row]));
  const knownRejected = new Map<string, KnownRejected>(repo.knownRejected(folder.id).map((row) => [row.rel_path, row]));
  const present = new Set<string>();
  const work: WalkedFile[] = [];
  for (const file of walked.files) {
    present.add(file.relPath);
    const image = knownImages.get(file.relPath);
    const rejected = knownRejected.get(file.relPath);
    if ((image && image.size === file.size && image.mtime_ms === file.mtimeMs) || (rejected && rejected.size === file.size && rejected.mtime_ms === file.mtimeMs)) {
      summary.unchanged += 1;
      continue;
    }
    work.push(file);
  }
  for (const problem of walked.problems) present.add(problem.relPath);

  // Files that are gone, unless they sit below a folder we could not list this time.
  const underUnreadable = (relPath: string): boolean => walked.unreadableFolders.some((dir) => relPath.startsWith(`${dir}/`));
  const vanishedImages = [...knownImages.values()].filter((row) => !present.has(row.rel_path) && !underUnreadable(row.rel_path));
  const vanishedRejected = [...knownRejected.values()].filter((row) => !present.has(row.rel_path) && !underUnreadable(row.rel_path));
  const vanishedBySize = new Map<number, KnownImage[]>();
  for (const row of vanishedImages) vanishedBySize.set(row.size, [...(vanishedBySize.get(row.size) ?? []), row]);
  const movedAway = new Set<number>();

  const total = walked.files.length;
  let done = summary.unchanged;
  task.progress(done, total, `${work.length.toLocaleString('en')} files to read in ${folder.name}`, counts());

  // Problems found by the walk itself (broken or outward symlinks, unreadable subfolders).
  // They are counted as rejected the first time only, like refused files that did not change.
  const knownReasons = new Map([...knownRejected.values()].map((row) => [row.rel_path, row.reason]));
  repo.transaction(() => {
    for (const problem of walked.problems) {
      if (knownReasons.get(problem.relPath) === problem.reason) summary.unchanged += 1;
      else summary.rejected += 1;
      repo.upsertRejected(folder.id, { relPath: problem.relPath, size: 0, mtimeMs: 0, kind: problem.kind, reason: problem.reason });
    }
  });

  async function examine(file: WalkedFile): Promise<Outcome> {
    try {
      let bytes: Buffer;
      try {
        bytes = await readOnly(file.absPath);
      } catch (error) {
        return { kind: 'rejected', file, problem: 'unreadable', reason: `cannot read the file (${errorCode(error)})`, decoded: false };
      }
      const name = path.basename(file.relPath);
      const sniffed = sniffFormat(bytes.subarray(0, sniffBytes));
      // A file without an image extension is only an image if its content says so (README.txt is not).
      if (!hasImageExtension(name) && !sniffed) return { kind: 'ignored', file };
      const hash = crypto.createHash('sha256').update(bytes).digest('hex');
      const known = knownImages.get(file.relPath);
      if (known && known.content_hash === hash) return { kind: 'touched', file, id: known.id };
      if (!known && !knownRejected.has(file.relPath)) {
        const candidates = vanishedBySize.get(bytes.length) ?? [];
        const from = candidates.find((row) => row.content_hash === hash && !movedAway.has(row.id));
        if (from) {
          movedAway.add(from.id);
          return { kind: 'moved', file, from };
        }
      }
      try {
        const decoded = await deps.decoder(bytes, decodeOptions);
        const notes = [...decoded.notes];
        if (!extensionMatches(name, decoded.format)) notes.unshift(`the content is ${decoded.format.toUpperCase()} although the name says ${path.extname(name)}`);
        return {
          kind: 'image',
          file,
          decoded: true,
          previousId: known?.id,
          record: {
            relPath: file.relPath,
            size: bytes.length,
            mtimeMs: file.mtimeMs,
            width: decoded.width,
            height: decoded.height,
            format: decoded.format,
            contentHash: hash,
            folderClass: folderClassOf(file.relPath) ?? null,
            note: notes.length ? notes.join('; ') : null,
          },
        };
      } catch (error) {
        if (error instanceof DecodeError) return { kind: 'rejected', file, problem: error.failure, reason: error.message, decoded: true };
        return { kind: 'rejected', file, problem: 'corrupt', reason: `cannot decode: ${(error as Error).message}`, decoded: true };
      }
    } catch (error) {
      return { kind: 'rejected', file, problem: 'unreadable', reason: `cannot read the file (${errorCode(error)})`, decoded: false };
    }
  }

  let batch: Outcome[] = [];
  let lastCommit = performance.now();

  function commit(): void {
    if (batch.length === 0) return;
    const outcomes = batch;
    batch = [];
    const touchedHashes: string[] = [];
    const staleHashes: string[] = [];
    repo.transaction(() => {
      for (const outcome of outcomes) {
        switch (outcome.kind) {
          case 'image': {
            const previous = knownImages.get(outcome.file.relPath);
            const id = repo.upsertImage(folder.id, outcome.record);
            touchedHashes.push(outcome.record.contentHash);
            if (previous && previous.content_hash !== outcome.record.contentHash) {
              touchedHashes.push(previous.content_hash);
              staleHashes.push(previous.content_hash);
            }
            if (withLabels && outcome.record.folderClass) repo.setFolderLabel(id, outcome.record.folderClass);
            break;
          }
          case 'touched':
            repo.touchImage(outcome.id, outcome.file.size, outcome.file.mtimeMs);
            break;
          case 'moved': {
            const folderClass = folderClassOf(outcome.file.relPath) ?? null;
            repo.moveImage(outcome.from.id, outcome.file.relPath, outcome.file.size, outcome.file.mtimeMs, folderClass);
            if (withLabels) {
              if (folderClass) repo.setFolderLabel(outcome.from.id, folderClass);
              else repo.clearFolderLabel(outcome.from.id);
            }
            break;
          }
          case 'rejected': {
            const displaced = repo.upsertRejected(folder.id, {
              relPath: outcome.file.relPath,
              size: outcome.file.size,
              mtimeMs: outcome.file.mtimeMs,
              kind: outcome.problem,
              reason: outcome.reason,
            });
            if (displaced) {
              touchedHashes.push(displaced);
              staleHashes.push(displaced);
            }
            break;
          }
          case 'ignored': {
            const displaced = repo.forgetPath(folder.id, outcome.file.relPath);
            if (displaced) {
              touchedHashes.push(displaced);
              staleHashes.push(displaced);
            }
            break;
          }
        }
      }
      repo.refreshCopies(touchedHashes);
    });
    lastCommit = performance.now();
    deps.onBatch?.(staleHashes);
  }

  function tally(outcome: Outcome): void {
    switch (outcome.kind) {
      case 'image':
        summary.decoded += 1;
        if (outcome.previousId !== undefined) summary.updated += 1;
        else summary.imported += 1;
        break;
      case 'touched':
        summary.unchanged += 1;
        break;
      case 'moved':
        summary.moved += 1;
        break;
      case 'rejected':
        if (outcome.decoded) summary.decoded += 1;
        summary.rejected += 1;
        break;
      case 'ignored':
        summary.ignored += 1;
        break;
    }
  }

  // `concurrency` files are read and decoded at once; outcomes are stored in file order,
  // whatever order they finish in (a slow file holds back storing, not decoding, up to a window).
  const finished = new Map<number, Outcome>();
  const window = deps.concurrency * 16;
  let nextStart = 0;
  let nextStore = 0;
  let active = 0;
  let failure: unknown;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      try {
        while (failure === undefined && finished.has(nextStore)) {
          const outcome = finished.get(nextStore)!;
          finished.delete(nextStore);
          nextStore += 1;
          batch.push(outcome);
          tally(outcome);
          done += 1;
          task.progress(done, total, outcome.file.relPath, counts());
          if (batch.length >= deps.batchSize || performance.now() - lastCommit > 1000) commit();
        }
      } catch (error) {
        failure = error;
      }
      const stopping = failure !== undefined || task.signal.aborted;
      while (!stopping && active < deps.concurrency && nextStart < work.length && nextStart - nextStore < window) {
        const index = nextStart;
        nextStart += 1;
        active += 1;
        void examine(work[index]!).then((outcome) => {
          active -= 1;
          finished.set(index, outcome);
          pump();
        });
      }
      if (active === 0 && (stopping || nextStore >= work.length)) resolve();
    };
    pump();
  });
  if (failure !== undefined) throw failure;
  // Whatever finished is stored, also when cancelled.
  commit();
  throwIfCancelled(task.signal);

  // The whole folder was seen: forget what is gone (moved images were kept under their new path).
  const gone = vanishedImages.filter((row) => !movedAway.has(row.id));
  const staleHashes = gone.map((row) => row.content_hash);
  repo.transaction(() => {
    for (const row of gone) repo.deleteImage(row.id);
    for (const row of vanishedRejected) repo.deleteRejected(row.id);
    repo.refreshCopies(staleHashes);
  });
  summary.removed = gone.length + vanishedRejected.length;
  deps.onBatch?.(staleHashes);
  summary.seconds = Math.round((performance.now() - started) / 10) / 100;
  task.progress(total, total, describeSummary(summary), counts());
  return summary;
}

/** One line a person reads about what a scan did. */
export function describeSummary(summary: ScanSummary): string {
  if (summary.imported + summary.updated + summary.unchanged + summary.moved + summary.rejected === 0) {
    const others = summary.ignored ? ` (${summary.ignored.toLocaleString('en')} other file${summary.ignored === 1 ? '' : 's'} ignored)` : '';
    return `No image found${others}: add a folder that holds JPEG, PNG, GIF, WebP, TIFF or AVIF images (subfolders are included).`;
  }
  const parts = [`${summary.imported.toLocaleString('en')} imported`];
  if (summary.updated) parts.push(`${summary.updated.toLocaleString('en')} updated`);
  if (summary.unchanged) parts.push(`${summary.unchanged.toLocaleString('en')} unchanged`);
  if (summary.moved) parts.push(`${summary.moved.toLocaleString('en')} moved`);
  if (summary.removed) parts.push(`${summary.removed.toLocaleString('en')} removed`);
  parts.push(`${summary.rejected.toLocaleString('en')} rejected`);
  if (summary.ignored) parts.push(`${summary.ignored.toLocaleString('en')} ignored`);
  return parts.join(', ');
}
