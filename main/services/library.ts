import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import {
  defaultMaxPixels,
  defaultMinSide,
  type FolderInfo,
  type ImportOptions,
  type LibraryChangedEvent,
  type MediaKind,
  type ScanSummary,
} from '../common/library';
import { ServiceError } from '../common/result';
import type { TaskInfo } from '../common/tasks';
import { isHiddenOrSystem, isInside, looksLikeClassLayout } from '../data/scan';
import { removeThumbnail, renderDisplayImage, renderThumbnail, thumbnailDir, thumbnailFile, writeThumbnail } from '../data/thumbnails';
import { LibraryRepository, type FolderRow, type ImageLocation } from '../store/library-repository';
import type { AreaHandlers, ServiceContext } from './app-services';
import { scanFolder, sharpDecoder, type ImageDecoder } from './library-import';
import { throwIfCancelled } from './tasks';
import { appLog } from '../log';

/** What a media request gets back: the bytes, or a status with a message (never a thrown error). */
export type MediaResponse =
  | { status: 200; type: string; body: Buffer; etag: string; cacheControl: string }
  | { status: 304; etag: string; cacheControl: string }
  | { status: 400 | 403 | 404 | 500; message: string };

/** What a media request may carry besides the kind and id. */
export interface MediaRequest {
  /** The ETag the client already has. */
  ifNoneMatch?: string;
  /** The content version the URL names (?v=<hash prefix>); when it matches, the answer may be cached. */
  version?: string;
}

/**
 * Serves thumbnails and images of registered folders by image id, for browser mode's
 * /thumbs/<id> and /images/<id> and Electron's jigclu-media:// protocol. The id is looked up in
 * the database; no path ever comes from the request.
 */
export interface MediaSource {
  open(kind: MediaKind, id: number, request?: MediaRequest): Promise<MediaResponse>;
}

export interface LibraryOptions {
  /** The decoder imports use (tests inject a counting one). */
  decoder?: ImageDecoder;
  /** Files read and decoded at once during an import. */
  concurrency?: number;
  /** Outcomes stored per transaction during an import. */
  batchSize?: number;
  /** Thumbnails made at once. */
  thumbnailConcurrency?: number;
  /** Start making thumbnails after each import (default true). */
  autoThumbnails?: boolean;
}

/** Expands a leading ~ to the home folder and makes the path absolute and normal. */
export function normaliseFolderPath(input: string): string {
  const trimmed = input.trim();
  const expanded = trimmed === '~' || trimmed.startsWith('~/') || trimmed.startsWith('~\\') ? path.join(os.homedir(), trimmed.slice(1)) : trimmed;
  if (!path.isAbsolute(expanded)) {
    throw new ServiceError('INVALID_ARGUMENT', `Give the full path of the folder (for example ${path.join(os.homedir(), 'Pictures')}), not "${input}".`);
  }
  const resolved = path.resolve(expanded);
  // Keep a root like / or C:\ as it is; drop a trailing separator elsewhere.
  return resolved.length > 1 && resolved.endsWith(path.sep) ? resolved.slice(0, -1) : resolved;
}

/**
 * The image library: folders, imports and rescans as background tasks, thumbnails, the gallery
 * queries and the media source. One per core (see `libraryService`).
 */
export class LibraryService {
  readonly repo: LibraryRepository;
  readonly cacheDir: string;
  readonly media: MediaSource;
  /** Running scans by folder id (task ids). */
  private readonly scans = new Map<number, string>();
  private thumbnailTask: string | undefined;
  private thumbnailMore = false;
  private lastEmit = 0;
  private readonly decoder: ImageDecoder;

  constructor(
    private readonly context: ServiceContext,
    private readonly options: LibraryOptions = {},
  ) {
    // libvips' operation cache only pays off when the same operation runs on the same input
    // again; an import or a thumbnail run never repeats one, and the cache costs time and memory.
    sharp.cache(false);
    this.repo = new LibraryRepository(context.db);
    this.cacheDir = thumbnailDir(context.dataDir);
    this.decoder = options.decoder ?? sharpDecoder;
    this.media = { open: (kind, id, request) => this.openMedia(kind, id, request ?? {}) };
  }

  // ---- folders -----------------------------------------------------------------------------

  /** Every folder with its counts. */
  folders(): FolderInfo[] {
    return this.repo.folders().map((row) => this.folderInfo(row));
  }

  folderInfo(row: FolderRow): FolderInfo {
    const counts = this.repo.folderCounts(row.id);
    const classes = this.repo.folderClasses(row.id);
    const scanStatus = row.scan_status === 'running' && !this.scans.has(row.id) ? 'interrupted' : row.scan_status;
    return {
      id: row.id,
      path: row.path,
      name: row.name,
      minSide: row.min_side,
      maxPixels: row.max_pixels,
      addedAt: row.added_at,
      ...counts,
      scanStatus,
      ...(row.last_scan_at ? { lastScanAt: row.last_scan_at } : {}),
      ...(row.last_scan ? { lastScan: JSON.parse(row.last_scan) as ScanSummary } : {}),
      classes,
      looksLikeClasses: looksLikeClassLayout(
        classes.map((entry) => entry.images),
        counts.images,
      ),
      labelsFromFolders: row.labels_from_folders === 1,
    };
  }

  private folderRow(id: number): FolderRow {
    const row = this.repo.folder(id);
    if (!row) throw new ServiceError('NOT_FOUND', `No folder with id ${id} in the library.`);
    return row;
  }

  /** Registers a folder (after checking it is a readable folder that overlaps no other) and starts importing it. */
  async addFolder(input: string, options: ImportOptions = {}): Promise<{ folder: FolderInfo; task: TaskInfo }> {
    const folderPath = normaliseFolderPath(input);
    let stat;
    try {
      stat = await fs.stat(folderPath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new ServiceError('NOT_FOUND', `There is no folder at ${folderPath}.`);
      throw new ServiceError('FORBIDDEN', `The folder ${folderPath} cannot be read (${code ?? (error as Error).message}).`);
    }
    if (!stat.isDirectory()) throw new ServiceError('INVALID_ARGUMENT', `${folderPath} is a file, not a folder: choose the folder that holds your images.`);
    let entries;
    try {
      await fs.access(folderPath, fs.constants.R_OK | fs.constants.X_OK);
      entries = await fs.readdir(folderPath, { withFileTypes: true });
    } catch (error) {
      throw new ServiceError('FORBIDDEN', `The folder ${folderPath} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`);
    }
    const real = await fs.realpath(folderPath);
    const dataReal = await fs.realpath(this.context.dataDir).catch(() => path.resolve(this.context.dataDir));
    if (isInside(dataReal, real)) {
      throw new ServiceError('INVALID_ARGUMENT', `${folderPath} is inside JigClu Studio's data folder (${this.context.dataDir}); choose a folder of your own images.`);
    }
    for (const other of this.repo.folders()) {
      const otherReal = await fs.realpath(other.path).catch(() => other.path);
      if (otherReal === real || other.path === folderPath) {
        throw new ServiceError('CONFLICT', `${folderPath} is already in the library: rescan it to pick up changes.`);
      }
      if (isInside(otherReal, real)) {
        throw new ServiceError('CONFLICT', `${folderPath} is inside ${other.path}, which is already in the library: rescan that folder instead.`);
      }
      if (isInside(real, otherReal)) {
        throw new ServiceError('CONFLICT', `${folderPath} contains ${other.path}, which is already in the library: remove that folder first, then add this one.`);
      }
    }
    if (entries.every((entry) => isHiddenOrSystem(entry.name, entry.isDirectory()))) {
      throw new ServiceError('INVALID_ARGUMENT', `The folder ${folderPath} is empty: choose the folder that holds your images (its subfolders are included).`);
    }
    const row = this.repo.addFolder({
      path: folderPath,
      name: path.basename(folderPath) || folderPath,
      minSide: options.minSide ?? defaultMinSide,
      maxPixels: options.maxPixels ?? defaultMaxPixels,
    });
    const task = this.startScan(row, 'Importing');
    this.emit({ what: 'folders', folderId: row.id }, true);
    return { folder: this.folderInfo(this.folderRow(row.id)), task };
  }

  /** Starts a rescan (or returns the scan already running for that folder). */
  rescan(folderId: number): TaskInfo {
    return this.startScan(this.folderRow(folderId), 'Rescanning');
  }

  private startScan(folder: FolderRow, verb: string): TaskInfo {
    const running = this.scans.get(folder.id);
    if (running) {
      const info = this.context.tasks.list().find((task) => task.id === running);
      if (info?.status === 'running') return info;
    }
    const info = this.context.tasks.start({ kind: 'import', title: `${verb} ${folder.name}`, unit: 'files' }, async (task) => {
      this.repo.setScanStatus(folder.id, 'running');
      try {
        const summary = await scanFolder(
          this.folderRow(folder.id),
          {
            repo: this.repo,
            decoder: this.decoder,
            concurrency: this.options.concurrency ?? Math.max(2, Math.min(4, os.availableParallelism())),
            batchSize: this.options.batchSize ?? 200,
            exclude: [this.context.dataDir],
            onBatch: (stale) => {
              void this.dropUnusedThumbnails(stale);
              this.emit({ what: 'folders', folderId: folder.id });
            },
          },
          task,
        );
        this.repo.setScanStatus(folder.id, 'finished', summary);
      } catch (error) {
        if (this.context.db.open && this.repo.folder(folder.id)) this.repo.setScanStatus(folder.id, task.signal.aborted ? 'cancelled' : 'failed');
        throw error;
      } finally {
        this.scans.delete(folder.id);
        if (this.context.db.open) this.emit({ what: 'folders', folderId: folder.id }, true);
      }
      if (this.options.autoThumbnails ?? true) this.ensureThumbnails();
    });
    this.scans.set(folder.id, info.id);
    return info;
  }

  /** The task id of the scan running for a folder, if any. */
  runningScan(folderId: number): string | undefined {
    return this.scans.get(folderId);
  }

  /** Forgets a folder: our rows, labels and unused thumbnails. The user's files are not touched. */
  async removeFolder(folderId: number, confirmed: boolean): Promise<{ removedImages: number }> {
    const folder = this.folderRow(folderId);
    const labelled = this.repo.labelledImages(folderId);
    if (labelled > 0 && !confirmed) {
      throw new ServiceError(
        'CONFLICT',
        `${folder.name} has ${labelled.toLocaleString('en')} labelled images: removing it from the library forgets those labels (your files stay where they are). Confirm to remove it.`,
      );
    }
    const running = this.scans.get(folderId);
    if (running) {
      this.context.tasks.cancel(running);
      await this.context.tasks.settled(running);
    }
    const { images, hashes } = this.repo.removeFolder(folderId);
    await this.dropUnusedThumbnails(hashes);
    this.emit({ what: 'folders', folderId }, true);
    return { removedImages: images };
  }

  /** Imports the class-folder names of a folder as labels (source 'folder'). */
  useFolderLabels(folderId: number): { classes: number; labelled: number } {
    this.folderRow(folderId);
    const result = this.repo.applyFolderLabels(folderId);
    this.emit({ what: 'folders', folderId }, true);
    return result;
  }

  // ---- thumbnails ----------------------------------------------------------------------------

  /** Starts the thumbnail task when images are waiting for one (or tells the running one to look again). */
  ensureThumbnails(): TaskInfo | undefined {
    if (this.thumbnailTask) {
      this.thumbnailMore = true;
      return this.context.tasks.list().find((task) => task.id === this.thumbnailTask);
    }
    const pending = this.repo.countPendingThumbnails();
    if (pending === 0) return undefined;
    const concurrency = this.options.thumbnailConcurrency ?? Math.max(2, Math.min(4, os.availableParallelism()));
    const info = this.context.tasks.start({ kind: 'thumbnails', title: 'Making thumbnails', unit: 'images', total: pending }, async (task) => {
      try {
        let done = 0;
        let total = pending;
        let afterId = 0;
        for (;;) {
          throwIfCancelled(task.signal);
          const rows = this.repo.pendingThumbnails(afterId, 64);
          if (rows.length === 0) {
            if (!this.thumbnailMore) break;
            this.thumbnailMore = false;
            afterId = 0;
            total = done + this.repo.countPendingThumbnails();
            continue;
          }
          afterId = rows.at(-1)!.id;
          let next = 0;
          await Promise.all(
            Array.from({ length: Math.min(concurrency, rows.length) }, async () => {
              while (next < rows.length && !task.signal.aborted) {
                const row = rows[next++]!;
                await this.makeThumbnail(row);
                done += 1;
                task.progress(done, Math.max(total, done), row.rel_path);
              }
            }),
          );
          this.emit({ what: 'thumbnails' });
        }
      } finally {
        this.thumbnailTask = undefined;
        if (this.context.db.open) this.emit({ what: 'thumbnails' }, true);
      }
    });
    this.thumbnailTask = info.id;
    return info;
  }

  /** Makes (or finds) the thumbnail of one image and records the outcome. */
  private async makeThumbnail(row: ImageLocation): Promise<void> {
    const target = thumbnailFile(this.cacheDir, row.content_hash);
    if (await exists(target)) {
      if (this.context.db.open) this.repo.setThumbState(row.content_hash, 1);
      return;
    }
    const source = await resolveInsideFolder(row.folder_path, row.rel_path);
    if ('status' in source) {
      if (this.context.db.open) this.repo.setThumbState(row.content_hash, 2);
      return;
    }
    try {
      await writeThumbnail(this.cacheDir, row.content_hash, await renderThumbnail(source.file, row.max_pixels));
      if (!this.context.db.open) return;
      if (this.repo.hashInUse(row.content_hash)) this.repo.setThumbState(row.content_hash, 1);
      else await removeThumbnail(this.cacheDir, row.content_hash);
    } catch {
      if (this.context.db.open) this.repo.setThumbState(row.content_hash, 2);
    }
  }

  /** Deletes cached thumbnails whose content no image has any more. */
  private async dropUnusedThumbnails(hashes: Iterable<string>): Promise<void> {
    for (const hash of new Set(hashes)) {
      if (!this.context.db.open) return;
      if (!this.repo.hashInUse(hash)) await removeThumbnail(this.cacheDir, hash).catch(() => undefined);
    }
  }

  // ---- media ----------------------------------------------------------------------------------

  private async openMedia(kind: MediaKind, id: number, request: MediaRequest): Promise<MediaResponse> {
    if (!Number.isSafeInteger(id) || id <= 0) return { status: 400, message: 'Bad image id.' };
    const location = this.repo.location(id);
    if (!location) return { status: 404, message: `No image with id ${id} in the library.` };
    // Checked for every request, cached thumbnail or not: the image must still resolve inside its folder.
    const source = await resolveInsideFolder(location.folder_path, location.rel_path);
    if ('status' in source) return source;
    const etag = `"${kind}-${location.content_hash.slice(0, 32)}"`;
    // A URL naming the current content (?v=<hash prefix>) never changes meaning: let the view cache it.
    const versioned = request.version !== undefined && request.version.length >= 8 && location.content_hash.startsWith(request.version);
    const cacheControl = versioned ? 'private, max-age=86400, immutable' : 'private, no-cache';
    if (request.ifNoneMatch === etag) return { status: 304, etag, cacheControl };
    try {
      if (kind === 'images') return { status: 200, type: 'image/jpeg', body: await renderDisplayImage(source.file, location.max_pixels), etag, cacheControl };
      const cached = thumbnailFile(this.cacheDir, location.content_hash);
      const cachedBody: Buffer | undefined = await fs.readFile(cached).catch(() => undefined);
      if (cachedBody) return { status: 200, type: 'image/webp', body: cachedBody, etag, cacheControl };
      const body = await renderThumbnail(source.file, location.max_pixels);
      try {
        await writeThumbnail(this.cacheDir, location.content_hash, body);
        this.repo.setThumbState(location.content_hash, 1);
      } catch (error) {
        // The cache is only a speed-up: a read-only data folder or a full disk still shows the image.
        appLog('warn', 'library', `thumbnail of image ${id} not cached: ${(error as Error).message}`);
      }
      return { status: 200, type: 'image/webp', body, etag, cacheControl };
    } catch (error) {
      return { status: 500, message: `Cannot show this image: ${(error as Error).message.split('\n')[0]}` };
    }
  }

  // ---- events ---------------------------------------------------------------------------------

  /** Tells the views to refresh, at most about once a second unless `now`. */
  private emit(event: LibraryChangedEvent, now = false): void {
    const time = performance.now();
    if (!now && time - this.lastEmit < 1000) return;
    this.lastEmit = time;
    this.context.emit?.('library', event);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves an image's file and checks it still lies inside its registered folder: no '..'
 * or absolute segments in the stored path, and no symbolic link leading out (compared on real
 * paths). Returns the real path, or the status to answer with.
 */
export async function resolveInsideFolder(
  folderPath: string,
  relPath: string,
): Promise<{ file: string } | { status: 403 | 404; message: string }> {
  const segments = relPath.split('/');
  if (relPath.includes('\0') || segments.some((segment) => segment === '' || segment === '.' || segment === '..' || segment.includes('\\') && path.sep === '\\')) {
    return { status: 403, message: 'Refused: the stored path leaves its folder.' };
  }
  const root = path.resolve(folderPath);
  const full = path.resolve(root, ...segments);
  if (!isInside(root, full) || full === root) return { status: 403, message: 'Refused: the stored path leaves its folder.' };
  let realRoot: string;
  let realFile: string;
  try {
    realRoot = await fs.realpath(root);
  } catch {
    return { status: 404, message: `The folder ${folderPath} is not available (is the drive connected?).` };
  }
  try {
    realFile = await fs.realpath(full);
  } catch {
    return { status: 404, message: 'The file is gone: rescan its folder.' };
  }
  if (!isInside(realRoot, realFile) || realFile === realRoot) {
    return { status: 403, message: 'Refused: the file resolves outside its registered folder (a symbolic link pointing out).' };
  }
  const stat = await fs.stat(realFile).catch(() => undefined);
  if (!stat?.isFile()) return { status: 404, message: 'The file is gone: rescan its folder.' };
  return { file: realFile };
}

const services = new WeakMap<ServiceContext, LibraryService>();

/** The one library service of a service context (created on first use). */
export function libraryService(context: ServiceContext, options?: LibraryOptions): LibraryService {
  let service = services.get(context);
  if (!service) {
    service = new LibraryService(context, options ?? context.library);
    services.set(context, service);
  }
  return service;
}

type LibraryCalls =
  | 'libraryFolders'
  | 'libraryPickFolder'
  | 'libraryAddFolder'
  | 'libraryRescan'
  | 'libraryRemoveFolder'
  | 'libraryUseFolderLabels'
  | 'libraryClasses'
  | 'libraryPage'
  | 'libraryImage'
  | 'libraryProblems';

/** The library's calls of the contract. */
export function libraryHandlers(context: ServiceContext): AreaHandlers<LibraryCalls> {
  const library = libraryService(context);
  return {
    libraryFolders: () => library.folders(),
    libraryPickFolder: () => {
      // The desktop app replaces this handler with the native dialog (electron/dialogs.ts).
      throw new ServiceError('UNAVAILABLE', 'There is no folder dialog in browser mode: type the path of the folder instead.');
    },
    libraryAddFolder: ({ path: folderPath, options }) => library.addFolder(folderPath, options),
    libraryRescan: ({ folderId }) => library.rescan(folderId),
    libraryRemoveFolder: ({ folderId, confirmed }) => library.removeFolder(folderId, confirmed),
    libraryUseFolderLabels: ({ folderId }) => library.useFolderLabels(folderId),
    libraryClasses: () => library.repo.classes(),
    libraryPage: (query) => library.repo.page(query),
    libraryImage: ({ id }) => {
      const image = library.repo.image(id);
      if (!image) throw new ServiceError('NOT_FOUND', `No image with id ${id} in the library.`);
      return image;
    },
    libraryProblems: (query) => library.repo.problems(query),
  };
}
