import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { quotePath } from '../../main/cli/library-commands';
import { buildProgram } from '../../main/cli/program';
import { startCore } from '../../main/core';
import { brokenCopy, brokenExpectations, fakeEngineReport } from '../helpers/library';

/** `jigclu import <folder>`: the report it prints, rescans on a second run, labels on request. */

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function jigclu(...args: string[]): Promise<string> {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  await buildProgram().exitOverride().parseAsync(['node', 'jigclu', ...args]);
  vi.restoreAllMocks();
  return lines.join('\n');
}

describe('jigclu import', () => {
  it('imports a folder and lists every file it did not import, with the reason', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-cli-'));
    dirs.push(work);
    const folder = brokenCopy(work);
    const dataDir = path.join(work, 'data');
    const rejected = [...brokenExpectations()].filter(([, outcome]) => outcome === 'reject').map(([name]) => name);
    const imported = [...brokenExpectations().values()].filter((outcome) => outcome === 'import').length;

    const first = await jigclu('--data-dir', dataDir, 'import', folder);
    expect(first).toContain(`${imported} imported, ${rejected.length} rejected`);
    expect(first).toContain(`In the library: ${imported} images, ${rejected.length} rejected`);
    expect(first).toContain(`Not imported (${rejected.length}):`);
    for (const name of rejected) expect(first).toMatch(new RegExp(`\\n    ${name.replace('.', '\\.')}: \\w+`));

    // Run again: a rescan that decodes nothing.
    const second = await jigclu('--data-dir', dataDir, 'import', folder, '--json');
    const report = JSON.parse(second) as { folder: { images: number; lastScan: { decoded: number; imported: number } } };
    expect(report.folder.images).toBe(imported);
    expect(report.folder.lastScan).toMatchObject({ decoded: 0, imported: 0 });
    // And the thumbnails were made (the default).
    expect(fs.readdirSync(path.join(dataDir, 'thumbnails')).length).toBeGreaterThan(0);
    // Through the same core as the app: an app opened on the data folder lists the folder and its problems.
    const app = startCore({ dataDir, mode: 'browser', probeEngines: async () => fakeEngineReport, library: { autoThumbnails: false } });
    try {
      const folders = await app.handlers.libraryFolders({});
      expect(folders.map((entry) => [entry.path, entry.images, entry.rejected])).toEqual([[folder, imported, rejected.length]]);
      expect((await app.handlers.libraryProblems({ folderId: folders[0]!.id, offset: 0, limit: 100 })).total).toBe(rejected.length);
    } finally {
      app.close();
    }
  });

  it('quotes paths that a shell would split or expand', () => {
    expect(quotePath('café 猫.jpg')).toBe('"café 猫.jpg"');
    expect(quotePath('plain/path.jpg')).toBe('plain/path.jpg');
    expect(quotePath('a$b.jpg')).toBe('"a$b.jpg"');
    expect(quotePath('tab\there.jpg')).toBe('"tab\\there.jpg"');
  });
});
