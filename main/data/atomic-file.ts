import fs from 'node:fs';
import path from 'node:path';

/** The file-system calls `writeFileAtomic` makes (tests inject short writes and full disks). */
export interface AtomicFileIo {
  openSync(file: string, flags: string): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  fstatSync(fd: number): { size: number };
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  rmSync(file: string, options: { force: true }): void;
}

const nodeIo: AtomicFileIo = {
  openSync: (file, flags) => fs.openSync(file, flags),
  writeSync: (fd, buffer, offset, length) => fs.writeSync(fd, buffer, offset, length),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  fstatSync: (fd) => fs.fstatSync(fd),
  closeSync: (fd) => fs.closeSync(fd),
  renameSync: (from, to) => fs.renameSync(from, to),
  rmSync: (file, options) => fs.rmSync(file, options),
};

/** Temporary files of `writeFileAtomic` start with a dot and end with this. */
export const temporarySuffix = '.tmp';

/**
 * Writes a file atomically: the whole of `data` to a temporary file in the same folder (looping
 * on short writes), fsync, a check that the file on disk has exactly the bytes written, rename
 * over the target, fsync the folder. On any failure (a full disk, a short file) the temporary
 * file is removed and the target is untouched: a crash or an error leaves the old file or the
 * new one, never half of one.
 */
export function writeFileAtomic(file: string, data: Buffer | string, io: AtomicFileIo = nodeIo): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const temporary = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}${temporarySuffix}`);
  let handle: number | undefined;
  try {
    handle = io.openSync(temporary, 'w');
    let written = 0;
    while (written < bytes.length) {
      const count = io.writeSync(handle, bytes, written, bytes.length - written);
      // A write of 0 bytes would loop forever: the disk takes nothing more.
      if (count <= 0) throw Object.assign(new Error(`could not write ${file}: the disk accepted no more bytes (${written} of ${bytes.length} written)`), { code: 'ENOSPC' });
      written += count;
    }
    io.fsyncSync(handle);
    const size = io.fstatSync(handle).size;
    if (size !== bytes.length) {
      throw Object.assign(new Error(`could not write ${file}: ${size} bytes reached the disk instead of ${bytes.length}`), { code: 'EIO' });
    }
    io.closeSync(handle);
    handle = undefined;
    io.renameSync(temporary, file);
  } catch (error) {
    if (handle !== undefined) {
      try {
        io.closeSync(handle);
      } catch {
        // Closing a file on a failed disk may fail too; removing it below is what matters.
      }
    }
    io.rmSync(temporary, { force: true });
    throw error;
  }
  syncFolder(dir);
}

/** Makes a rename in `dir` durable; some platforms (Windows) cannot fsync a folder, where the rename is still atomic. */
function syncFolder(dir: string): void {
  let handle: number | undefined;
  try {
    handle = fs.openSync(dir, 'r');
    fs.fsyncSync(handle);
  } catch {
    // See above.
  } finally {
    if (handle !== undefined) fs.closeSync(handle);
  }
}

/** Removes temporary files `writeFileAtomic` left in `dir` when its process was killed mid-write. */
export function removeStaleTemporaries(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const stale = fs.readdirSync(dir).filter((name) => name.startsWith('.') && name.endsWith(temporarySuffix));
  for (const name of stale) fs.rmSync(path.join(dir, name), { force: true });
  return stale;
}
