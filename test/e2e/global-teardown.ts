import path from 'node:path';
import { composeReadmePicture } from './readme-picture';

const root = path.resolve(import.meta.dirname, '..', '..');

/** After the e2e run: the README's first picture from this run's screenshots (see readme-picture.ts). */
export default async function globalTeardown(): Promise<void> {
  const since = Number(process.env.JIGCLU_E2E_STARTED ?? 0);
  const made = await composeReadmePicture(path.join(root, 'test', 'output', 'e2e'), since);
  if (made.file) console.log(`README picture: ${path.relative(root, made.file)} (copy it to resources/docs/screenshot.png to update the README).`);
  else console.log(`README picture not made: ${made.skipped}.`);
}
