import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import madge from 'madge';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * No import circle in main/ or renderer/: a module never needs itself back through its
 * imports, type-only imports included (services get their neighbours as constructor
 * arguments, from createServices). madge reads the .ts and .vue files with TypeScript's
 * resolution, so `import type` edges count as the issue that asked for this counted them.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The import circles among the .ts and .vue files under `folders` (paths relative to `baseDir`). */
async function importCircles(baseDir: string, folders: string[]): Promise<{ circles: string[][]; files: string[]; skipped: string[] }> {
  const result = await madge(
    folders.map((folder) => path.join(baseDir, folder)),
    {
      baseDir,
      fileExtensions: ['ts', 'vue'],
      tsConfig: path.join(repoRoot, 'tsconfig.json'),
      detectiveOptions: { ts: { skipTypeImports: false }, vue: { skipTypeImports: false } },
    },
  );
  return { circles: result.circular(), files: Object.keys(result.obj()), skipped: result.warnings().skipped };
}

/** Every .ts and .vue file under a folder, relative to the repo root. */
function sourceFiles(folder: string): string[] {
  return fs
    .readdirSync(path.join(repoRoot, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.(ts|vue)$/.test(name) && !name.endsWith('.d.ts'))
    .map((name) => path.join(folder, name).split(path.sep).join('/'));
}

const planted = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-cycles-'));
afterAll(() => fs.rmSync(planted, { recursive: true, force: true }));

describe('import circles', () => {
  it('main/ and renderer/ have none (type-only imports count)', async () => {
    const { circles, files, skipped } = await importCircles(repoRoot, ['main', 'renderer']);
    // Every source file was read, and no relative import was left unresolved (a skipped edge could hide a circle).
    for (const file of [...sourceFiles('main'), ...sourceFiles('renderer')]) expect(files, `${file} was not read`).toContain(file);
    expect(skipped.filter((name) => name.startsWith('.'))).toEqual([]);
    expect(circles.map((circle) => circle.join(' > '))).toEqual([]);
  }, 120_000);

  it('finds a planted circle, through a type-only import and a .vue file too', async () => {
    const write = (name: string, text: string): void => {
      fs.mkdirSync(path.dirname(path.join(planted, name)), { recursive: true });
      fs.writeFileSync(path.join(planted, name), text);
    };
    write('main/a.ts', "import { b } from './b';\nexport const a = b + 1;\n");
    write('main/b.ts', "import type { C } from './c';\nexport const b = 1;\nexport type B = C;\n");
    write('main/c.ts', "import { a } from './a';\nexport type C = typeof a;\n");
    write('renderer/store.ts', "import type View from './View.vue';\nexport type Shown = typeof View;\n");
    write('renderer/View.vue', '<script setup lang="ts">\nimport type { Shown } from \'./store\';\ndefineProps<{ shown?: Shown }>();\n</script>\n<template><p /></template>\n');
    const { circles } = await importCircles(planted, ['main', 'renderer']);
    expect(circles.map((circle) => [...circle].sort().join(' '))).toEqual(expect.arrayContaining(['main/a.ts main/b.ts main/c.ts', 'renderer/View.vue renderer/store.ts']));
  }, 60_000);
});
