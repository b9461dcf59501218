import { z } from 'zod';

/**
 * The image library's domain types, shared by the core, the CLI and the renderer: registered
 * folders with their counts, gallery pages and their filters, one image's details, and the
 * "problems" (files that were refused, each with a reason a person understands).
 */

/** Refuse images whose shorter side is below this many pixels (after EXIF orientation). */
export const defaultMinSide = 8;
/** Refuse images with more pixels than this, read from the header before decoding (Pillow's bomb limit). */
export const defaultMaxPixels = 2 * 89_478_485;
/** The long side of a thumbnail, in pixels. */
export const thumbnailSize = 256;
/** The most rows one gallery or problems page returns. */
export const maxPageSize = 500;

/** Options that decide what an import accepts; stored with the folder so rescans stay consistent. */
export const importOptionsSchema = z
  .object({
    /** Shorter side below this (px) is refused as too small. */
    minSide: z.number().int().min(1).max(10_000).optional(),
    /** Images above this many pixels are refused as possible decompression bombs. */
    maxPixels: z.number().int().min(1).max(4_000_000_000).optional(),
  })
  .strict();
export type ImportOptions = z.infer<typeof importOptionsSchema>;

/** How the last scan of a folder ended; 'interrupted' means the process died while it ran. */
export type ScanStatus = 'never' | 'running' | 'finished' | 'cancelled' | 'failed' | 'interrupted';

/** What one scan (import or rescan) did, file by file. */
export interface ScanSummary {
  /** Files found by the walk (images and other files, hidden ones excluded). */
  seen: number;
  /** New images stored. */
  imported: number;
  /** Known images whose file changed (size or mtime) and was decoded again. */
  updated: number;
  /** Known files with the same size and mtime, not decoded again. */
  unchanged: number;
  /** Known images found at a new path (same content), kept with their labels. */
  moved: number;
  /** Records of files that are gone from the folder. */
  removed: number;
  /** Files refused, with a reason each (see the problems list). */
  rejected: number;
  /** Hidden and system files, folder symlinks and files that are not images: skipped silently. */
  ignored: number;
  /** Full decodes done (the expensive part; unchanged and moved files need none). */
  decoded: number;
  /** Seconds the scan took. */
  seconds: number;
}

/** A class name found in the folder layout (root/<class>/... or root/<split>/<class>/...). */
export interface FolderClass {
  name: string;
  images: number;
}

/** A registered folder with its counts, as the folder list shows it. */
export interface FolderInfo {
  id: number;
  path: string;
  name: string;
  minSide: number;
  maxPixels: number;
  addedAt: string;
  images: number;
  rejected: number;
  /** Images with at least one label (from folder names or by hand). */
  labelled: number;
  /** Images whose exact content also appears elsewhere in the library. */
  duplicates: number;
  /** Images still waiting for their thumbnail. */
  thumbnailsPending: number;
  scanStatus: ScanStatus;
  lastScanAt?: string;
  lastScan?: ScanSummary;
  /** Class names the subfolders suggest (root/<class>/<images>). */
  classes: FolderClass[];
  /** True when the layout looks like classes, so the app offers to import the names as labels. */
  looksLikeClasses: boolean;
  /** True once folder names were imported as labels (new images get them too). */
  labelsFromFolders: boolean;
}

/** A label class (created from folder names or by hand). */
export interface ClassInfo {
  id: number;
  name: string;
  /** Images carrying the class (from either source, counted once). */
  images: number;
  /** A CSS hex colour #rrggbb chosen for the class, or null for the automatic palette. */
  color: string | null;
  /** The number key (1-9) that labels with the class; null when it has none (the picker, `/`, reaches it). */
  key: number | null;
  /** Hand labels of the class. */
  hand: number;
  /** Folder labels of the class. */
  folder: number;
}

/** What the gallery shows. */
export const galleryShowValues = ['images', 'duplicates', 'labelled', 'unlabelled', 'rejected'] as const;
export type GalleryShow = (typeof galleryShowValues)[number];

export const galleryQuerySchema = z
  .object({
    folderId: z.number().int().positive().optional(),
    show: z.enum(galleryShowValues).default('images'),
    /** Only images with this label (any source). */
    classId: z.number().int().positive().optional(),
    /** Position of the first row (the virtual grid asks for any page). */
    offset: z.number().int().min(0).max(100_000_000).default(0),
    limit: z.number().int().min(1).max(maxPageSize).default(200),
  })
  .strict();
export type GalleryQuery = z.input<typeof galleryQuerySchema>;

/** One tile of the gallery: an image, or (when showing rejected files) a problem. */
export interface GalleryItem {
  /** Image id, or problem id when `rejected` is set. */
  id: number;
  folderId: number;
  /** Path inside its folder, '/'-separated. */
  relPath: string;
  width?: number;
  height?: number;
  format?: string;
  /** How many images in the library have this exact content (1 = unique). */
  copies?: number;
  /** The start of the content hash: names the version of the thumbnail (?v=...). */
  version?: string;
  label?: string;
  /** Set for a rejected file: why it was refused. */
  rejected?: string;
}

export interface GalleryPage {
  items: GalleryItem[];
  /** Rows matching the query (for the scrollbar of the virtual grid). */
  total: number;
  offset: number;
}

/** Everything the image view shows about one image. */
export interface ImageDetails {
  id: number;
  folderId: number;
  folderPath: string;
  relPath: string;
  /** Absolute path on disk. */
  path: string;
  size: number;
  mtime: string;
  width: number;
  height: number;
  format: string;
  contentHash: string;
  /** What the import did to read it (EXIF rotation, 16-bit to 8-bit, first frame, ...). */
  note?: string;
  folderClass?: string;
  labels: { className: string; source: 'folder' | 'hand' }[];
  /** Other images with the same content. */
  duplicates: { id: number; path: string }[];
  importedAt: string;
}

/** Why a file was refused (programs) — the message says it for people. */
export type ProblemKind = 'empty' | 'not-an-image' | 'unsupported' | 'corrupt' | 'too-large' | 'too-small' | 'unreadable' | 'symlink';

/** A file that was not imported, with its reason. */
export interface Problem {
  id: number;
  folderId: number;
  relPath: string;
  path: string;
  kind: ProblemKind;
  reason: string;
  size: number;
}

export const problemsQuerySchema = z
  .object({
    folderId: z.number().int().positive().optional(),
    offset: z.number().int().min(0).max(100_000_000).default(0),
    limit: z.number().int().min(1).max(maxPageSize).default(200),
  })
  .strict();

export interface ProblemsPage {
  items: Problem[];
  total: number;
  /** How many of each kind, for the summary line. */
  byKind: Partial<Record<ProblemKind, number>>;
}

/** A change in the library, so views refresh their counts. */
export interface LibraryChangedEvent {
  folderId?: number;
  /**
   * 'folders' (added, removed, counts), 'thumbnails' (new thumbnails are ready), 'labels'
   * (classes or labels changed: class list, counts, the label of tiles).
   */
  what: 'folders' | 'thumbnails' | 'labels';
}

/**
 * The custom URL scheme that serves thumbnails and images inside Electron
 * (jigclu-media://thumbs/<id>, jigclu-media://images/<id>); browser mode serves the same paths
 * on its own origin (/thumbs/<id>, /images/<id>).
 */
export const mediaScheme = 'jigclu-media';
export type MediaKind = 'thumbs' | 'images';
/** The one shape of a media path: a kind and a numeric id, never a file path. */
export const mediaPathPattern = /^\/(thumbs|images)\/([1-9]\d{0,15})$/;

/** The optional content version of a media URL (?v=<hash prefix>): lower-case hex. */
export const mediaVersionPattern = /^[0-9a-f]{8,64}$/;

/** Splits a request path into a media kind and image id, or undefined when it is not one. */
export function parseMediaPath(pathname: string): { kind: MediaKind; id: number } | undefined {
  const match = mediaPathPattern.exec(pathname);
  if (!match) return undefined;
  const id = Number(match[2]);
  return Number.isSafeInteger(id) ? { kind: match[1] as MediaKind, id } : undefined;
}

/** Human-readable byte size: 1.2 MB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
