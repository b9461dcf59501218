import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, bench, describe } from 'vitest';
import { startCore, type Core } from '../../main/core';
import { openDatabase } from '../../main/store/db';
import { LibraryRepository } from '../../main/store/library-repository';
import { fakeEngineReport } from '../helpers/library';

/**
 * The library's benchmarks (npm run bench), each against a baseline measured in the same run:
 *  - import throughput on 20,000 small generated JPEGs, against a bare loop that only decodes
 *    the same files with sharp (at the same concurrency, from paths and from memory: the faster
 *    is the baseline); target: the import takes at most 1.5x the bare loop's time;
 *  - thumbnails per second (the 2,000 of one class folder);
 *  - gallery page queries (200 rows, with a filter) on a database of 100,000 images; target < 20 ms.
 * Generated data lives in os.tmpdir() (the JPEGs are kept between runs; the databases are not).
 */

const imageCount = Number(process.env.JIGCLU_BENCH_IMAGES ?? 20_000);
const classes = 10;
const concurrency = Math.max(2, Math.min(4, os.availableParallelism()));
const jpegDir = path.join(os.tmpdir(), `jigclu-bench-jpegs-${imageCount}-v1`);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-bench-library-'));
const thumbnailCount = imageCount / classes;
const once = { iterations: 1, warmupIterations: 0, time: 0, warmupTime: 0 };
const results: Record<string, number> = {};
/** Every timing of each gallery query, for the median and 95th percentile. */
const pageTimes = new Map<string, number[]>();
let files: string[] = [];

/** 20,000 small JPEGs (64x64, each different) in 10 class folders; made once and kept. */
async function generateJpegs(): Promise<string[]> {
  const marker = path.join(jpegDir, '.complete');
  const list = Array.from({ length: imageCount }, (_, i) => path.join(jpegDir, `class-${i % classes}`, `${String(i).padStart(6, '0')}.jpg`));
  if (!fs.existsSync(marker)) {
    console.log(`Generating ${imageCount} JPEGs in ${jpegDir} (once)...`);
    for (let c = 0; c < classes; c++) fs.mkdirSync(path.join(jpegDir, `class-${c}`), { recursive: true });
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < list.length) {
          const i = next++;
          const raw = Buffer.alloc(64 * 64 * 3);
          for (let j = 0; j < raw.length; j++) raw[j] = (j * 7 + i * 13 + ((j >> 6) * (i % 97))) & 255;
          await sharp(raw, { raw: { width: 64, height: 64, channels: 3 } }).jpeg({ quality: 85 }).toFile(list[i]!);
        }
      }),
    );
    fs.writeFileSync(marker, String(imageCount));
  }
  // Read every file once so both the baseline and the import find them in the page cache.
  for (const file of list) fs.readFileSync(file);
  return list;
}

/** Decodes every file with sharp and nothing else: from its path, or read into memory first. */
async function bareDecodeLoop(from: 'path' | 'buffer'): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < files.length) {
        const file = files[next++]!;
        await sharp(from === 'path' ? file : await fs.promises.readFile(file)).raw().toBuffer();
      }
    }),
  );
}

function freshCore(name: string, autoThumbnails: boolean): Core {
  return startCore({ dataDir: path.join(work, `${name}-${Date.now()}`), mode: 'cli', probeEngines: async () => fakeEngineReport, library: { autoThumbnails } });
}

beforeAll(async () => {
  files = await generateJpegs();
}, 600_000);

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
  const lines = ['', 'Library benchmark summary'];
  const { barePath, bareBuffer, import: imported } = results;
  if (barePath && bareBuffer && imported) {
    // The faster of the two bare loops is the baseline, so the ratio is not flattered.
    const bare = Math.min(barePath, bareBuffer);
    lines.push(`  bare decode, file paths:      ${(imageCount / barePath).toFixed(0)} images/s (${barePath.toFixed(1)} s, concurrency ${concurrency})`);
    lines.push(`  bare decode, read + buffer:   ${(imageCount / bareBuffer).toFixed(0)} images/s (${bareBuffer.toFixed(1)} s, concurrency ${concurrency})`);
    lines.push(`  library import:               ${(imageCount / imported).toFixed(0)} images/s (${imported.toFixed(1)} s)`);
    lines.push(`  import / faster bare decode:  ${(imported / bare).toFixed(2)}x the time (target <= 1.5x)`);
  }
  if (results['thumbnails']) {
    lines.push(`  thumbnails:                   ${(thumbnailCount / results['thumbnails']).toFixed(0)} images/s (${thumbnailCount.toLocaleString('en')} made in ${results['thumbnails'].toFixed(1)} s)`);
  }
  if (pageTimes.size > 0) lines.push('  gallery page of 200 at 100,000 images (target < 20 ms):     median     p95');
  for (const [name, times] of pageTimes) {
    const sorted = [...times].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    lines.push(`    ${name.padEnd(52)} ${at(0.5).toFixed(2).padStart(6)} ms ${at(0.95).toFixed(2).padStart(6)} ms`);
  }
  console.log(lines.join('\n'));
});

describe(`import ${imageCount.toLocaleString('en')} small JPEGs`, () => {
  bench(
    'bare sharp decode loop, file paths (baseline)',
    async () => {
      const started = performance.now();
      await bareDecodeLoop('path');
      results['barePath'] = (performance.now() - started) / 1000;
    },
    once,
  );

  bench(
    'bare sharp decode loop, files read into memory (baseline)',
    async () => {
      const started = performance.now();
      await bareDecodeLoop('buffer');
      results['bareBuffer'] = (performance.now() - started) / 1000;
    },
    once,
  );

  bench(
    'library import (walk, read, hash, full decode, store)',
    async () => {
      const core = freshCore('import', false);
      try {
        const started = performance.now();
        const { task } = await core.handlers.libraryAddFolder({ path: jpegDir });
        const ended = await core.tasks.settled(task.id);
        if (ended.status !== 'finished') throw new Error(`import ${ended.status}: ${ended.error}`);
        results['import'] = (performance.now() - started) / 1000;
        const [folder] = await core.handlers.libraryFolders({});
        if (folder?.images !== imageCount) throw new Error(`imported ${folder?.images} of ${imageCount}`);
      } finally {
        core.close();
      }
    },
    once,
  );
});

describe('thumbnails', () => {
  bench(
    `make ${thumbnailCount.toLocaleString('en')} thumbnails (256 px WebP)`,
    async () => {
      const core = freshCore('thumbnails', true);
      try {
        const { task } = await core.handlers.libraryAddFolder({ path: path.join(jpegDir, 'class-0') });
        await core.tasks.settled(task.id);
        const thumbnails = core.tasks.list().find((entry) => entry.kind === 'thumbnails');
        if (!thumbnails) throw new Error('no thumbnail task started');
        const started = performance.now();
        const ended = await core.tasks.settled(thumbnails.id);
        results['thumbnails'] = (performance.now() - started) / 1000;
        if (ended.done !== thumbnailCount) throw new Error(`made ${ended.done} of ${thumbnailCount} thumbnails`);
      } finally {
        core.close();
      }
    },
    once,
  );
});

describe('gallery page of 200 at 100,000 images', () => {
  const total = 100_000;
  const db = openDatabase(path.join(work, 'gallery', 'jigclu.sqlite'));
  const repo = new LibraryRepository(db);
  const folderIds: number[] = [];
  const classIds: number[] = [];
  db.transaction(() => {
    for (let f = 0; f < 5; f++) folderIds.push(repo.addFolder({ path: `${work}/folder-${f}`, name: `folder-${f}`, minSide: 8, maxPixels: 1e8 }).id);
    for (let c = 0; c < classes; c++) classIds.push(repo.classId(`class-${c}`));
    const insert = db.prepare(
      `INSERT INTO images (folder_id, rel_path, size, mtime_ms, width, height, format, content_hash, copies, folder_class, thumb_state)
       VALUES (?, ?, 1000, 1.5, 64, 64, 'jpeg', ?, ?, ?, 1)`,
    );
    const label = db.prepare("INSERT INTO labels (image_id, class_id, source) VALUES (?, ?, 'folder')");
    for (let i = 0; i < total; i++) {
      // Every 20th image shares its content with the one before it (5% duplicates).
      const duplicate = i % 20 === 1;
      const hash = (duplicate ? i - 1 : i).toString(16).padStart(64, '0');
      const id = Number(insert.run(folderIds[i % 5], `class-${i % classes}/${i}.jpg`, hash, duplicate || i % 20 === 0 ? 2 : 1, `class-${i % classes}`).lastInsertRowid);
      if (i % 10 < 6) label.run(id, classIds[i % classes]);
    }
  })();
  db.pragma('optimize');

  const cases: [string, Parameters<LibraryRepository['page']>[0]][] = [
    ['all images, first page', { show: 'images', offset: 0, limit: 200 }],
    ['one folder, first page', { show: 'images', folderId: folderIds[2], offset: 0, limit: 200 }],
    ['one folder, page at row 15,000', { show: 'images', folderId: folderIds[2], offset: 15_000, limit: 200 }],
    ['all images, page at row 90,000', { show: 'images', offset: 90_000, limit: 200 }],
    ['one label, page at row 3,000', { show: 'images', classId: classIds[3], offset: 3_000, limit: 200 }],
    ['duplicates in one folder', { show: 'duplicates', folderId: folderIds[0], offset: 0, limit: 200 }],
    ['duplicates in all folders, page at row 4,000', { show: 'duplicates', offset: 4_000, limit: 200 }],
    ['labelled, page at row 30,000', { show: 'labelled', offset: 30_000, limit: 200 }],
    ['one label in one folder, first page', { show: 'images', classId: classIds[4], folderId: folderIds[4], offset: 0, limit: 200 }],
    ['unlabelled, first page', { show: 'unlabelled', offset: 0, limit: 200 }],
  ];
  for (const [name, query] of cases) {
    bench(
      name,
      () => {
        const started = performance.now();
        const page = repo.page(query);
        const ms = performance.now() - started;
        if (page.items.length === 0) throw new Error(`${name}: empty page`);
        pageTimes.set(name, [...(pageTimes.get(name) ?? []), ms]);
      },
      { time: 300, warmupIterations: 3 },
    );
  }
  afterAll(() => db.close());
});
