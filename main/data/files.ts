import crypto from 'node:crypto';
import fs from 'node:fs';
import { folderClassOf, walkFolder } from './scan';

export interface ListedImage {
  file: string;
  /** The class the file's place suggests (root/<class>/..., or root/train/<class>/...); else ''. */
  className: string;
  size: number;
  mtimeMs: number;
}

/**
 * Lists candidate image files under a folder for training and evaluation, with the library's
 * own walk (stable Unicode-aware order, hidden and system files skipped, folder symlinks not
 * followed, file symlinks only inside the folder). Plain text and data files are left out here;
 * whether a file is really an image is decided when it is decoded, from its content.
 */
export async function listImageFiles(root: string): Promise<ListedImage[]> {
  const { files } = await walkFolder(root);
  return files
    .filter((file) => !/\.(txt|md|json|csv|tsv|xml|html?|py|sh)$/i.test(file.relPath))
    .map((file) => ({ file: file.absPath, className: folderClassOf(file.relPath) ?? '', size: file.size, mtimeMs: file.mtimeMs }));
}

/** sha256 of a file's content (hex), streamed: the library's content hash. */
export function fileSha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    fs.createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
