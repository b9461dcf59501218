import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClassifierInfo } from '../../main/common/finetune';
import { startCore, type Core } from '../../main/core';
import type { ComputeJob } from '../../main/engine/compute/compute-jobs';
import { decodeTorchSafetensors } from '../../main/engine/weights/torch-export';
import { csvField, safeFileName, type ExportsService } from '../../main/services/exports';
import { builtEntry } from '../helpers/built';
import { inProcessHost } from '../helpers/compute-host';
import { dataset, fakeEngineReport } from '../helpers/library';

/**
 * Exports through a real core: a copy of ../shared/datasets/tiny as two library folders
 * (`labelled`: 2 images per class with folder labels; `more`: the other 6 per class, 3 of them
 * hand-labelled, one renamed to a path with a comma and a quote), a 1-epoch cpu-small run (built
 * trainer process) and a linear probe + fine-tune whose compute jobs run in this process from
 * the sources (so the classifier's saved model and the backbone export job are the current
 * code). Then labels as CSV and JSON, class folders, the classifier's files and the backbone.
 * The run, and so its jobs, use the wasm engine: 15 labels are 5 folds, 6 fine-tunings, which
 * take several times longer on cpu, and nothing here depends on the engine.
 */

let work: string;
let pictures: string;
let core: Core;
let exportsService: ExportsService;
const jobs: ComputeJob[] = [];
/** Image ids of `more` by class, in path order. */
const more = new Map<string, number[]>();
const handLabelled = new Set<number>();
// Sorts first in its class folder, so it is one of the hand-labelled images.
const weirdName = '0,"quoted" a.jpg';

/** A handler call as a promise, whether it throws at once or rejects later. */
function call<T>(run: () => T | Promise<T>): Promise<T> {
  return Promise.resolve().then(run);
}

/** Runs compute jobs in this process, recording them. */
const recordingHost = () => inProcessHost((job) => jobs.push(job));

/** Every file under a folder with its sha256 (relative paths), to prove it was never written to. */
function treeHash(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (folder: string): void => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else out[path.relative(dir, full)] = crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** A minimal RFC 4180 parser (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 1;
    } else field += c;
  }
  return rows;
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-exports-'));
  pictures = path.join(work, 'pictures');
  for (const className of ['airplane', 'frog', 'truck']) {
    const files = fs.readdirSync(path.join(dataset('tiny'), className)).sort();
    files.forEach((file, index) => {
      const target = index < 2 ? path.join(pictures, 'labelled', className, file) : path.join(pictures, 'more', className, className === 'airplane' && index === 2 ? weirdName : file);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(path.join(dataset('tiny'), className, file), target);
    });
  }
  core = startCore({
    dataDir: path.join(work, 'data'),
    mode: 'cli',
    probeEngines: async () => fakeEngineReport,
    library: { autoThumbnails: false },
    pretraining: { trainerScript: builtEntry('trainer-process'), createComputeHost: recordingHost },
  });
  exportsService = core.services.exports;
  for (const name of ['labelled', 'more']) {
    const { task } = await core.handlers.libraryAddFolder({ path: path.join(pictures, name) });
    expect((await core.tasks.settled(task.id)).status).toBe('finished');
  }
  const labelledFolder = (await core.handlers.libraryFolders({})).find((folder) => folder.path.endsWith('labelled'))!;
  await core.handlers.libraryUseFolderLabels({ folderId: labelledFolder.id });
  const rows = core.db.prepare("SELECT i.id, i.folder_class FROM images i JOIN folders f ON f.id = i.folder_id WHERE f.path LIKE '%more' ORDER BY i.rel_path").all() as {
    id: number;
    folder_class: string;
  }[];
  for (const row of rows) more.set(row.folder_class, [...(more.get(row.folder_class) ?? []), row.id]);
  const classIds = new Map((core.db.prepare('SELECT name, id FROM classes').all() as { name: string; id: number }[]).map((row) => [row.name, row.id]));
  for (const [className, ids] of more) {
    await core.handlers.labelSet({ imageIds: ids.slice(0, 3), classId: classIds.get(className)! });
    for (const id of ids.slice(0, 3)) handLabelled.add(id);
  }
  const started = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides: { epochs: 1, batch: 8, width: 0.125, engine: 'wasm' } });
  let run = await core.handlers.runGet({ runId: started.id, maxPoints: 10 });
  while (['running', 'paused'].includes(run.status)) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    run = await core.handlers.runGet({ runId: started.id, maxPoints: 10 });
  }
  expect(run.status, run.error ?? '').toBe('finished');
  await core.handlers.runUseCheckpoint({ runId: run.id, step: run.checkpoints.at(-1)!.step });
}, 120_000);

afterAll(() => {
  core?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('safe names and CSV fields', () => {
  it('makes class names safe folder names on Windows, macOS and Linux', () => {
    expect(safeFileName('a/b:c')).toBe('a_b_c');
    expect(safeFileName('CON')).toBe('_CON');
    expect(safeFileName('com1.txt')).toBe('_com1.txt');
    expect(safeFileName('dots... ')).toBe('dots');
    expect(safeFileName('..')).toBe('_');
    expect(safeFileName('what?*<>|"\\')).toBe('what_______');
    expect(safeFileName('chat 猫')).toBe('chat 猫');
  });

  it('quotes CSV fields as RFC 4180 says', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
  });
});

describe('exports', () => {
  let classifiers: ClassifierInfo[];

  it('refuses to export predictions before there is a classifier, saying what to do', async () => {
    await expect(call(() => core.handlers.labelsExport({ format: 'csv', include: 'predictions' }))).rejects.toThrow(/no classifier.*fine-tune/i);
    const labels = await core.handlers.labelsExport({ format: 'csv', include: 'labels' });
    expect(labels.rows).toBe(15);
  });

  it('fine-tunes with the current code, saving each classifier', async () => {
    const { task } = await core.handlers.finetuneStart({ mode: 'both', seed: 0, epochs: 2, compareRandom: false });
    const ended = await core.tasks.settled(task.id);
    expect(ended.status, ended.error).toBe('finished');
    classifiers = await core.handlers.classifiersList({});
    expect(classifiers).toHaveLength(2);
    const classify = jobs.filter((job) => job.kind === 'classify');
    expect(classify).toHaveLength(2);
    for (const job of classify) {
      expect(job.saveTo).toMatch(new RegExp(`^${core.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[\\\\/]classifiers[\\\\/]`));
      expect(job.classNames).toEqual(['airplane', 'frog', 'truck']);
    }
  }, 120_000);

  it('exports labels as CSV: header, absolute paths (quoted when they need it), sources, empty confidence', async () => {
    const file = await core.handlers.labelsExport({ format: 'csv', include: 'labels' });
    expect(file.fileName).toMatch(/^jigclu-labels-\d{4}-\d{2}-\d{2}\.csv$/);
    expect(file.mimeType).toBe('text/csv');
    const rows = parseCsv(file.content);
    expect(rows[0]).toEqual(['path', 'label', 'source', 'confidence']);
    const body = rows.slice(1);
    expect(body).toHaveLength(15);
    expect(file.rows).toBe(15);
    expect(body.filter((row) => row[2] === 'folder')).toHaveLength(6);
    expect(body.filter((row) => row[2] === 'hand')).toHaveLength(9);
    for (const row of body) {
      expect(row).toHaveLength(4);
      expect(path.isAbsolute(row[0]!)).toBe(true);
      expect(fs.existsSync(row[0]!)).toBe(true);
      expect(row[3]).toBe('');
      expect(path.basename(path.dirname(row[0]!)) === row[1] || row[0]!.endsWith(weirdName)).toBe(true);
    }
    const weird = path.join(pictures, 'more', 'airplane', weirdName);
    expect(file.content).toContain(`"${weird.replaceAll('"', '""')}",airplane,hand,\r\n`);
    expect(body.find((row) => row[0] === weird)).toEqual([weird, 'airplane', 'hand', '']);
  });

  it('exports labels and predictions: every image once, labels first, else the prediction and its confidence', async () => {
    const chosen = classifiers.find((c) => c.chosen)!;
    const csv = parseCsv((await core.handlers.labelsExport({ format: 'csv', include: 'both' })).content).slice(1);
    expect(csv).toHaveLength(24);
    expect(new Set(csv.map((row) => row[0])).size).toBe(24);
    const predicted = csv.filter((row) => row[2] === 'prediction');
    expect(predicted).toHaveLength(9);
    const json = await core.handlers.labelsExport({ format: 'json', include: 'both' });
    expect(json.fileName).toMatch(/^jigclu-labels-\d{4}-\d{2}-\d{2}\.json$/);
    expect(json.mimeType).toBe('application/json');
    const items = JSON.parse(json.content) as { path: string; label: string; source: string; confidence: number | null }[];
    expect(items).toHaveLength(24);
    expect(json.rows).toBe(24);
    for (const item of items) {
      expect(Object.keys(item).sort()).toEqual(['confidence', 'label', 'path', 'source']);
      if (item.source === 'prediction') {
        const imageId = core.db
          .prepare("SELECT i.id FROM images i JOIN folders f ON f.id = i.folder_id WHERE f.path || '/' || i.rel_path = ?")
          .pluck()
          .get(item.path.split(path.sep).join('/'));
        const stored = core.db.prepare('SELECT confidence FROM predictions WHERE classifier_id = ? AND image_id = ?').pluck().get(chosen.id, imageId) as number;
        expect(item.confidence).toBeCloseTo(stored, 6);
        expect(chosen.classes.map((c) => c.name)).toContain(item.label);
      } else {
        expect(item.confidence).toBeNull();
      }
    }
    const predictions = await core.handlers.labelsExport({ format: 'json', include: 'predictions' });
    expect(predictions.fileName).toMatch(/^jigclu-predictions-/);
    const all = JSON.parse(predictions.content) as { source: string; confidence: number }[];
    expect(all).toHaveLength(24);
    for (const item of all) {
      expect(item.source).toBe('prediction');
      expect(item.confidence).toBeGreaterThan(0);
    }
  });

  it('copies labelled images into class folders, byte-identical, never touching the library, and a re-run copies nothing twice', async () => {
    const before = treeHash(pictures);
    // A class whose name is no valid folder name, and a hand label of it on an unlabelled image.
    const odd = await core.handlers.classCreate({ name: 'a/b:c' });
    const unlabelled = more.get('frog')![3]!;
    await core.handlers.labelSet({ imageIds: [unlabelled], classId: odd.id });
    const destination = path.join(work, 'export', 'classes');
    const summary = await exportsService.classFolders({ destination, include: 'labels', minConfidence: 0 });
    expect(summary).toMatchObject({ destination, copied: 16, unchanged: 0, failed: [] });
    expect(summary.perClass).toEqual([
      { name: 'a/b:c', folder: 'a_b_c', images: 1 },
      { name: 'airplane', folder: 'airplane', images: 5 },
      { name: 'frog', folder: 'frog', images: 5 },
      { name: 'truck', folder: 'truck', images: 5 },
    ]);
    expect(fs.readdirSync(destination).sort()).toEqual(['a_b_c', 'airplane', 'frog', 'truck']);
    const labelRows = JSON.parse((await core.handlers.labelsExport({ format: 'json', include: 'labels' })).content) as { path: string; label: string }[];
    expect(labelRows).toHaveLength(16);
    for (const row of labelRows) {
      const copy = path.join(destination, safeFileName(row.label), safeFileName(path.basename(row.path)));
      expect(fs.readFileSync(copy).equals(fs.readFileSync(row.path)), copy).toBe(true);
    }
    expect(treeHash(pictures)).toEqual(before);

    // Again, as the task the UI starts: everything is there already.
    const { task } = await core.handlers.classFoldersExport({ destination, include: 'labels', minConfidence: 0 });
    expect(task).toMatchObject({ kind: 'export', unit: 'files', total: 16 });
    const ended = await core.tasks.settled(task.id);
    expect(ended.status, ended.error).toBe('finished');
    expect(ended.counts).toEqual({ copied: 0, unchanged: 16, failed: 0 });
    expect(ended.message).toMatch(/Copied 0 images into 4 class folders.*16 already there unchanged/);
    // The renamed folder is said, not done silently.
    expect(ended.message).toContain('folder names made safe: "a/b:c" → a_b_c');
    expect(Object.keys(treeHash(destination))).toHaveLength(16);
    expect(treeHash(pictures)).toEqual(before);
    await core.handlers.labelSet({ imageIds: [unlabelled], classId: null });
  });

  it('with predictions, also copies unlabelled images by predicted class at the minimum confidence; a clashing file gets a suffix; unreadable files are reported', async () => {
    const destination = path.join(work, 'export', 'with-predictions');
    // A foreign file where a copy would go: the copy takes another name, the file stays.
    const truck = path.join(pictures, 'more', 'truck', fs.readdirSync(path.join(pictures, 'more', 'truck')).sort()[0]!);
    fs.mkdirSync(path.join(destination, 'truck'), { recursive: true });
    fs.writeFileSync(path.join(destination, 'truck', path.basename(truck)), 'not this image');
    const chosen = classifiers.find((c) => c.chosen)!;
    const confidences = core.db
      .prepare('SELECT confidence FROM predictions p WHERE classifier_id = ? AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.image_id = p.image_id) ORDER BY confidence')
      .pluck()
      .all(chosen.id) as number[];
    const threshold = confidences[3]!;
    const summary = await exportsService.classFolders({ destination, include: 'both', minConfidence: threshold });
    expect(summary.failed).toEqual([]);
    expect(summary.copied + summary.unchanged).toBe(15 + confidences.filter((c) => c >= threshold).length);
    expect(fs.readFileSync(path.join(destination, 'truck', path.basename(truck)), 'utf8')).toBe('not this image');
    const suffixed = fs.readdirSync(path.join(destination, 'truck')).filter((name) => name.startsWith(`${path.basename(truck, '.jpg')}-`));
    expect(suffixed).toHaveLength(1);
    expect(fs.readFileSync(path.join(destination, 'truck', suffixed[0]!)).equals(fs.readFileSync(truck))).toBe(true);

    // An unreadable source is reported, not fatal.
    const gone = path.join(pictures, 'more', 'frog', fs.readdirSync(path.join(pictures, 'more', 'frog')).sort()[0]!);
    const saved = fs.readFileSync(gone);
    fs.rmSync(gone);
    try {
      const again = await exportsService.classFolders({ destination: path.join(work, 'export', 'missing'), include: 'labels', minConfidence: 0 });
      expect(again.failed).toEqual([{ path: gone, reason: 'ENOENT' }]);
      expect(again.copied).toBe(14);
    } finally {
      fs.writeFileSync(gone, saved);
    }
  });

  it('refuses a destination inside a library folder, containing one, or relative, saying what to do', async () => {
    const before = treeHash(pictures);
    for (const destination of [path.join(pictures, 'more', 'export'), path.join(pictures, 'labelled'), pictures, work]) {
      await expect(call(() => core.handlers.classFoldersExport({ destination, include: 'labels', minConfidence: 0 }))).rejects.toThrow(/library folder.*Choose a folder outside it/);
    }
    // Through a symbolic link into the library too.
    const link = path.join(work, 'link-to-more');
    fs.symlinkSync(path.join(pictures, 'more'), link);
    await expect(call(() => core.handlers.classFoldersExport({ destination: path.join(link, 'x'), include: 'labels', minConfidence: 0 }))).rejects.toThrow(/is inside the library folder/);
    await expect(call(() => core.handlers.classifierExport({ classifierId: classifiers[0]!.id, destination: path.join(pictures, 'more') }))).rejects.toThrow(/library folder/);
    await expect(call(() => core.handlers.classFoldersExport({ destination: 'relative/folder', include: 'labels', minConfidence: 0 }))).rejects.toThrow(/not an absolute path/);
    expect(treeHash(pictures)).toEqual(before);
    expect(fs.existsSync(path.join(pictures, 'more', 'export'))).toBe(false);
  });

  it("copies a classifier's saved model into a new folder, never overwriting", async () => {
    const destination = path.join(work, 'export', 'models');
    const classifier = classifiers[0]!;
    const first = await core.handlers.classifierExport({ classifierId: classifier.id, destination });
    expect(path.dirname(first.path)).toBe(destination);
    expect(path.basename(first.path)).toMatch(new RegExp(`-classifier-${classifier.id}$`));
    expect(first.files).toEqual(expect.arrayContaining(['labels.json', 'model.json', 'weights.bin']));
    const modelDir = core.db.prepare('SELECT model_dir FROM classifiers WHERE id = ?').pluck().get(classifier.id) as string;
    for (const name of first.files) expect(fs.readFileSync(path.join(first.path, name)).equals(fs.readFileSync(path.join(modelDir, name)))).toBe(true);
    const second = await core.handlers.classifierExport({ classifierId: classifier.id, destination });
    expect(second.path).toBe(`${first.path}-2`);
    // A classifier trained before models were saved says to retrain it.
    core.db.prepare('UPDATE classifiers SET model_dir = NULL WHERE id = ?').run(classifier.id);
    try {
      await expect(call(() => core.handlers.classifierExport({ classifierId: classifier.id, destination }))).rejects.toThrow(/trained before export was possible.*Retrain/);
    } finally {
      core.db.prepare('UPDATE classifiers SET model_dir = ? WHERE id = ?').run(modelDir, classifier.id);
    }
  });

  it('writes a backbone as safetensors with torchvision names, and as tfjs, in a compute job', async () => {
    const runId = classifiers[0]!.source.runId;
    const step = (classifiers[0]!.source as { step: number }).step;
    const destination = path.join(work, 'export', 'backbones');
    const torch = await core.handlers.backboneExport({ source: { kind: 'checkpoint', runId, step }, destination, format: 'safetensors' });
    expect(torch.files).toEqual(['backbone.safetensors']);
    expect(path.dirname(torch.path)).toBe(destination);
    expect(jobs.at(-1)).toMatchObject({ kind: 'export-backbone', format: 'safetensors', dir: torch.path });
    const { tensors, metadata } = decodeTorchSafetensors(fs.readFileSync(path.join(torch.path, 'backbone.safetensors')));
    for (const name of ['conv1.weight', 'bn1.weight', 'layer1.0.conv1.weight', 'layer1.0.bn1.running_mean', 'layer4.1.bn2.running_var', 'layer1.0.bn1.num_batches_tracked']) {
      expect(tensors.has(name), name).toBe(true);
    }
    expect(tensors.get('conv1.weight')!.shape[1]).toBe(3);
    expect(metadata.format).toBe('pytorch');
    expect(metadata.step).toBe(String(step));
    const random = await core.handlers.backboneExport({ source: { kind: 'random', runId }, destination, format: 'tfjs' });
    expect(random.files).toEqual(['model.json', 'weights.bin']);
    expect(path.basename(random.path)).toMatch(/random-init-backbone-tfjs$/);
    const model = JSON.parse(fs.readFileSync(path.join(random.path, 'model.json'), 'utf8')) as { modelTopology: { format: string } };
    expect(model.modelTopology.format).toBe('jigclu-backbone-v1');
    await expect(call(() => core.handlers.backboneExport({ source: { kind: 'checkpoint', runId, step: step + 9999 }, destination, format: 'safetensors' }))).rejects.toThrow(/no checkpoint at step/);
  });
});
