import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { evalSizeFor, presetNames, type PresetName } from '../common/pretrain-config';
import type { Core } from '../core';
import { listImageFiles, type ListedImage } from '../data/files';
import { Rng } from '../data/rng';
import { compareNames } from '../data/scan';
import { loadClassifier, predictFiles } from '../engine/classify/classifier-model';
import type { ClassifyJob } from '../engine/compute/compute-jobs';
import { resolveCheckpointArgument } from './checkpoint-argument';
import { checkpointSource, dataDirOf, finishTask, randomInitSource, withCore } from './core-session';
import { addEngineOptions, chooseEngine, printEngine, type EngineFlags } from './engine-choice';
import { libraryFoldersOf } from './pretrain-run';

/**
 * `jigclu finetune` and `jigclu predict`: the app's few-label classifier for scripts. finetune
 * picks N labelled images per class from class folders (seeded, stratified), trains a linear
 * probe and/or a full fine-tune on a run's backbone (or a random-init one) through the app's
 * fine-tuning service (recorded, listed in the app), reports validation and test accuracy, and
 * saves the classifier (a TF.js layers model with labels.json). predict classifies every image
 * under a folder with a saved classifier, as CSV (analysis only: it reads a saved folder, which
 * may come from another machine, and records nothing).
 */

type Mode = ClassifyJob['mode'];

/** A commander parser of whole numbers of at least `min`, naming the option when refused. */
export function integer(name: string, min: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min) throw new InvalidArgumentError(`${name} must be a whole number of at least ${min}.`);
    return parsed;
  };
}

function positiveNumber(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError(`${name} must be a number above 0, such as 0.01.`);
    return parsed;
  };
}

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function percent(value: number): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(1)}%` : 'n/a';
}

/** A stderr progress bar (counts, ETA) restarted at each phase. */
export function phaseBar(): { update(label: string, done: number, total: number): void; stop(): void } {
  const interactive = Boolean(process.stderr.isTTY);
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '{label} |{bar}| {value}/{total} · ETA {eta_formatted}', hideCursor: interactive, noTTYOutput: !interactive, notTTYSchedule: 5000, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  let current: string | undefined;
  return {
    update(label, done, total) {
      if (label !== current) {
        if (current !== undefined) bar.stop();
        bar.start(total, done, { label });
        current = label;
      } else {
        bar.setTotal(total);
        bar.update(done);
      }
    },
    stop() {
      if (current !== undefined) bar.stop();
      current = undefined;
    },
  };
}

interface Labelled {
  file: string;
  label: number;
}

/** Class folders under `root` (root/<class>/..., or root/train/<class>/...): files by class. */
export async function classFolders(root: string, option: string): Promise<{ byClass: Map<string, ListedImage[]>; unlabelled: number }> {
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new Error(`${option} ${root} is not a folder of class subfolders (root/<class>/<images>).`);
  const listed = await listImageFiles(root);
  const byClass = new Map<string, ListedImage[]>();
  for (const item of listed) {
    if (item.className === '') continue;
    let list = byClass.get(item.className);
    if (!list) byClass.set(item.className, (list = []));
    list.push(item);
  }
  return { byClass: new Map([...byClass].sort((a, b) => compareNames(a[0], b[0]))), unlabelled: listed.filter((item) => item.className === '').length };
}

/** Up to `perClass` files of each class, drawn with a seeded shuffle (all of them without `perClass`). */
export function pickPerClass(byClass: Map<string, ListedImage[]>, classNames: string[], perClass: number | undefined, seed: number): Labelled[] {
  const rng = new Rng(seed);
  return classNames.flatMap((name, label) => {
    const files = (byClass.get(name) ?? []).map((item) => item.file);
    const picked = perClass === undefined ? files : rng.shuffle([...files]).slice(0, perClass);
    return picked.map((file) => ({ file, label }));
  });
}

interface FinetuneOptions extends EngineFlags {
  train: string;
  backboneLr?: number;
  headLr?: number;
  test?: string;
  perClass?: number;
  mode: Mode | 'both';
  randomInit?: boolean;
  preset: PresetName;
  epochs?: number;
  seed: number;
  size?: number;
  out?: string;
}

/** The library class of each name (created when the library has none by that name), so the app can show the classifier's predictions. */
async function libraryClasses(core: Core, names: string[]): Promise<Map<string, { id: number; name: string }>> {
  const known = new Map((await core.handlers.libraryClasses({})).map((entry) => [entry.name, { id: entry.id, name: entry.name }]));
  for (const name of names) {
    if (!known.has(name)) {
      const created = await core.handlers.classCreate({ name });
      known.set(name, { id: created.id, name: created.name });
    }
  }
  return known;
}

/**
 * `jigclu finetune` through the same core services as the app's fine-tuning: the --train and
 * --test folders join the library, the checkpoint's run is the backbone, and the fine-tuning
 * service trains on the labels drawn here (never written as labels of the library) as one
 * task with its progress bar. Its classifiers, with their validation scores and a prediction
 * for every image, are stored in the data folder: the app lists them (classifiersList,
 * finetuneRounds). Test accuracy is read from the stored predictions of the --test images.
 */
async function finetune(core: Core, checkpointArg: string | undefined, options: FinetuneOptions): Promise<void> {
  if (!checkpointArg && !options.randomInit) throw new Error('give a run folder or checkpoint, or --random-init for the untrained baseline.');
  const checkpoint = checkpointArg ? resolveCheckpointArgument(checkpointArg) : undefined;
  const trainRoot = path.resolve(options.train);
  const train = await classFolders(trainRoot, '--train');
  const classNames = [...train.byClass.keys()];
  if (classNames.length < 2) throw new Error(`--train ${trainRoot} must hold one subfolder per class (root/<class>/<images>); found ${classNames.length} class folder(s).`);
  const labelled = pickPerClass(train.byClass, classNames, options.perClass, options.seed);
  const short = classNames.filter((name) => options.perClass !== undefined && (train.byClass.get(name)?.length ?? 0) < options.perClass);
  if (short.length) console.error(`warning: fewer than ${options.perClass} images in ${short.join(', ')}: all of them are used.`);
  if (train.unlabelled) console.error(`${train.unlabelled} files outside class folders in --train are not used.`);

  let test: Labelled[] = [];
  const roots = [trainRoot];
  if (options.test) {
    const testRoot = path.resolve(options.test);
    const folders = await classFolders(testRoot, '--test');
    const unknown = [...folders.byClass.keys()].filter((name) => !classNames.includes(name));
    if (unknown.length) console.error(`warning: --test classes not in --train are left out: ${unknown.join(', ')}.`);
    test = pickPerClass(folders.byClass, classNames, undefined, 0);
    if (test.length === 0) throw new Error(`--test ${testRoot} has no images in class folders named like --train's (${classNames.join(', ')}).`);
    if (testRoot !== trainRoot) roots.push(testRoot);
  }

  // With --random-init and a checkpoint: a fresh backbone of the checkpoint's architecture; without one, the preset's.
  const { run, source } = checkpoint ? checkpointSource(core, checkpoint, Boolean(options.randomInit)) : randomInitSource(core, options.preset);
  const config = run.config;
  const size = options.size ?? evalSizeFor(config);
  const { folderIds } = await libraryFoldersOf(core, roots);
  const imageIds = new Map(core.services.embeddings.repo.images(folderIds).map((image) => [image.path, image.id]));
  const classes = await libraryClasses(core, classNames);
  const labels = new Map<number, { id: number; name: string }>();
  for (const item of labelled) {
    const id = imageIds.get(item.file);
    if (id !== undefined) labels.set(id, classes.get(classNames[item.label]!)!);
  }
  const tested = test.flatMap((item) => {
    const id = imageIds.get(item.file);
    return id === undefined ? [] : [{ id, classId: classes.get(classNames[item.label]!)!.id }];
  });
  const left = labelled.length - labels.size + test.length - tested.length;
  if (left) console.error(`${left} files are not in the library (not readable as images: see jigclu import) and are left out.`);

  const what = options.randomInit ? 'random-init' : 'pretrained';
  const backboneName = options.randomInit ? `random-init ${config.arch} x${config.width}` : path.basename(checkpoint!);
  console.error(`Backbone: ${backboneName}; ${labels.size} labelled images (${classNames.length} classes)${tested.length ? `, ${tested.length} test images` : ''}; ${size} px.`);
  const { task, round } = core.services.finetune.start(
    { mode: options.mode, source, folderIds, seed: options.seed, epochs: options.epochs },
    {
      labels,
      under: roots,
      size,
      backboneLr: options.backboneLr,
      headLr: options.headLr,
      engine: options.engine,
      threads: options.threads,
      onEngine: once(printEngine),
    },
  );
  await finishTask(core, task, 'the classifiers trained so far are kept in the data folder.');

  const modes: Mode[] = options.mode === 'both' ? ['linear-probe', 'fine-tune'] : [options.mode];
  const out = options.out ? path.resolve(options.out) : undefined;
  const perClassText = options.perClass !== undefined ? `${options.perClass} labels/class` : `${labels.size} labels`;
  const trained = core.services.finetune.repo.byRound().filter((row) => row.round === round);
  for (const mode of modes) {
    const row = trained.find((candidate) => candidate.mode === mode);
    if (!row) throw new Error(`the ${mode} classifier was not stored`);
    const title = mode === 'linear-probe' ? 'linear probe' : 'fine-tune';
    let testText = '';
    if (tested.length) {
      const predicted = new Map(core.services.finetune.repo.rowsOf(row.id, tested.map((item) => item.id)).map((prediction) => [prediction.image_id, prediction.class_id]));
      const seen = tested.filter((item) => predicted.has(item.id));
      const right = seen.filter((item) => predicted.get(item.id) === item.classId).length;
      testText = ` test ${percent(seen.length ? right / seen.length : Number.NaN)}`;
    }
    console.log(`few-label ${title}: val ${percent(row.val_accuracy ?? Number.NaN)}${testText} (${perClassText}, ${classNames.length} classes, ${what})`);
    const saveTo = out ? (modes.length > 1 ? path.join(out, mode) : out) : undefined;
    if (saveTo && row.model_dir) {
      fs.cpSync(row.model_dir, saveTo, { recursive: true });
      console.error(`Classifier written to ${saveTo} (${fs.readdirSync(row.model_dir).sort().join(', ')}).`);
    }
  }
  if (!out) console.error('Not saved: give --out <folder> to keep the classifier for `jigclu predict`.');
  console.error(`The app lists them as fine-tune round ${round} on ${run.name}.`);
}

/** Calls `action` the first time only (one engine line for the jobs of a task). */
function once<T>(action: (value: T) => void): (value: T) => void {
  let done = false;
  return (value) => {
    if (!done) action(value);
    done = true;
  };
}

async function predictFolder(modelDir: string, folder: string, options: { csv: string; batch: number } & EngineFlags): Promise<void> {
  const root = path.resolve(folder);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new Error(`${folder} is not a folder of images.`);
  await chooseEngine(options);
  const loaded = await loadClassifier(path.resolve(modelDir));
  try {
    const listed = await listImageFiles(root);
    if (listed.length === 0) throw new Error(`${folder} has no image files.`);
    const files = listed.map((item) => item.file);
    const bar = phaseBar();
    let result;
    try {
      result = await predictFiles(loaded, files, { batch: options.batch, onProgress: (done, total) => bar.update('Predicting', done, total) });
    } finally {
      bar.stop();
    }
    const { classes } = loaded;
    const rows = [['path', 'predicted', 'confidence', ...classes].map(csvField).join(',')];
    const counts = new Array<number>(classes.length).fill(0);
    for (const p of result.predictions) {
      counts[p.predicted]! += 1;
      rows.push([csvField(files[p.index]!), csvField(classes[p.predicted]!), p.confidence.toPrecision(6), ...Array.from(p.probabilities, (value) => value.toPrecision(6))].join(','));
    }
    const csv = path.resolve(options.csv);
    fs.mkdirSync(path.dirname(csv), { recursive: true });
    fs.writeFileSync(csv, `${rows.join('\r\n')}\r\n`);
    for (const skip of result.skipped) console.error(`Skipped ${skip.file}: ${skip.reason}`);
    console.log(`Predicted ${result.predictions.length} images${result.skipped.length ? ` (${result.skipped.length} skipped: not readable as images)` : ''} with ${path.resolve(modelDir)}:`);
    const width = Math.max(...classes.map((name) => name.length));
    classes.forEach((name, c) => console.log(`  ${name.padEnd(width)}  ${counts[c]}`));
    console.log(`Predictions written to ${csv}`);
  } finally {
    loaded.dispose();
  }
}

/** Registers `finetune` and `predict` on the program. */
export function registerFinetuneCommands(program: Command): void {
  const finetuneCommand = program
    .command('finetune')
    .description('train a classifier from a few labels per class on a run’s backbone (linear probe and/or full fine-tune); report validation and test accuracy; save it for `jigclu predict`')
    .argument('[checkpoint]', 'a run folder or checkpoint (.safetensors)')
    .requiredOption('--train <folder>', 'labelled images: one subfolder per class (root/<class>/<images>)')
    .option('--per-class <n>', 'labelled images per class, drawn at random (seeded) from --train (default: all)', integer('--per-class', 1))
    .option('--test <folder>', 'images to test on, one subfolder per class (named like --train’s)')
    .addOption(new Option('--mode <mode>', 'linear probe on frozen features, full fine-tune, or both').choices(['linear-probe', 'fine-tune', 'both']).default('both'))
    .option('--random-init', "use a randomly initialised backbone of the checkpoint's architecture (the untrained baseline)")
    .addOption(new Option('--preset <name>', 'architecture for --random-init without a checkpoint').choices(presetNames).default('cpu-small'))
    .option('--epochs <n>', 'epochs at most (default: 100 for the linear probe, 30 for fine-tuning)', integer('--epochs', 1))
    .option('--seed <n>', 'random seed (label draw, split, training)', integer('--seed', 0), 0)
    .option('--backbone-lr <rate>', 'fine-tuning: starting learning rate of the backbone (cosine schedule; default 0.01)', positiveNumber('--backbone-lr'))
    .option('--head-lr <rate>', 'fine-tuning: starting learning rate of the head, which starts from the linear probe’s (LP-FT; default 0.1)', positiveNumber('--head-lr'))
    .option('--size <px>', 'input size (default: the size the app uses the backbone at; see the README)', integer('--size', 32))
    .option('--out <folder>', 'where to save the classifier (model.json, weights.bin, labels.json); a subfolder per mode with --mode both');
  addEngineOptions(finetuneCommand).action((checkpointArg: string | undefined, options: FinetuneOptions) => withCore(dataDirOf(program), (core) => finetune(core, checkpointArg, options)));

  const predictCommand = program
    .command('predict')
    .description('classify every image under a folder with a classifier saved by `jigclu finetune` (or the app); CSV of path, predicted, confidence and one probability per class')
    .argument('<model-dir>', 'a saved classifier folder (model.json, weights.bin, labels.json)')
    .argument('<folder>', 'folder of images (searched recursively)')
    .requiredOption('--csv <file>', 'CSV file to write')
    .option('--batch <n>', 'images per forward pass', integer('--batch', 1), 32);
  addEngineOptions(predictCommand).action(async (modelDir: string, folder: string, options: { csv: string; batch: number } & EngineFlags) => predictFolder(modelDir, folder, options));
}
