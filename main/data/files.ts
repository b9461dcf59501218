import fs from 'node:fs/promises';
import path from 'node:path';

/** File names that are never images: hidden files, AppleDouble `._` files, Windows' thumbnails. */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name === 'Thumbs.db' || name === 'desktop.ini' || name === '$RECYCLE.BIN';
}

export interface ListedImage {
  file: string;
  /** First-level subfolder under the root, when the root is laid out root/<class>/...; else ''. */
  className: string;
}

/**
 * Lists candidate image files under a folder, recursively, in a stable Unicode-aware order.
 * Directory symlinks are not followed (no loops); hidden and system files are skipped.
 * Whether a file is really an image is decided when it is decoded, from its content.
 */
export async function listImageFiles(root: string): Promise<ListedImage[]> {
  const out: ListedImage[] = [];
  async function walk(dir: string, className: string, depth: number): Promise<void> {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name, 'en'));
    for (const entry of entries) {
      if (isIgnoredName(entry.name)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full, depth === 0 ? entry.name : className, depth + 1);
      else if (entry.isFile() || entry.isSymbolicLink()) {
        if (entry.isSymbolicLink()) {
          const target = await fs.stat(full).catch(() => undefined);
          if (!target?.isFile()) continue;
        }
        if (/\.(txt|md|json|csv|xml|html?)$/i.test(entry.name)) continue;
        out.push({ file: full, className });
      }
    }
  }
  await walk(path.resolve(root), '', 0);
  return out;
}
