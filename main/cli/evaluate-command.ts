import fs from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { evalSizeFor, presetNames, resolvePretrainConfig, type PresetName, type PretrainConfig } from '../common/pretrain-config';
import { evaluateQuality, type LabelledFiles } from '../engine/compute/quality';
import { JigCluTrainer } from '../engine/jigclu/trainer';
import { resolveCheckpointArgument } from './checkpoint-argument';
import { classFolders, integer, phaseBar } from './finetune-commands';
import { addEngineOptions, chooseEngine, type EngineFlags } from './engine-choice';

/**
 * `jigclu evaluate`: the representation quality of a backbone on labelled class folders in one
 * command (engine/compute/quality.ts): kNN top-1, k-means NMI / ARI / purity with k = the number of
 * classes, and the few-label linear probe and LP-FT fine-tune over several label draws. `--json`
 * writes the numbers for scripts; `npm run bench:quality` is built on it.
 */

interface EvaluateOptions extends EngineFlags {
  train: string;
  test: string;
  randomInit?: boolean;
  preset: PresetName;
  size?: number;
  perClass: number;
  draws: number;
  fineTune?: boolean;
  json?: string;
}

function percent(value: number): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(1)}%` : 'n/a';
}

/** Mean and sample standard deviation. */
function meanSd(values: number[]): { mean: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, sd };
}

function drawsText(values: number[]): string {
  if (values.length === 0) return 'n/a';
  const { mean, sd } = meanSd(values);
  return `${percent(mean)} ± ${(sd * 100).toFixed(1)} over ${values.length} label draw${values.length === 1 ? '' : 's'} (${values.map(percent).join(', ')})`;
}

async function evaluate(checkpointArg: string | undefined, options: EvaluateOptions): Promise<void> {
  if (!checkpointArg && !options.randomInit) throw new Error('give a run folder or checkpoint, or --random-init for the untrained baseline.');
  const checkpoint = checkpointArg ? resolveCheckpointArgument(checkpointArg) : undefined;
  const metadata = checkpoint ? JigCluTrainer.readMetadata(fs.readFileSync(checkpoint)) : undefined;
  // With --random-init and a checkpoint: the checkpoint's architecture, initialised with its seed
  // (the weights that run started from).
  const config: PretrainConfig = metadata?.config ?? resolvePretrainConfig(options.preset);
  const size = options.size ?? evalSizeFor(config);
  const trainRoot = path.resolve(options.train);
  const testRoot = path.resolve(options.test);
  const train = await classFolders(trainRoot, '--train');
  const classNames = [...train.byClass.keys()];
  if (classNames.length < 2) throw new Error(`--train ${trainRoot} must hold one subfolder per class (root/<class>/<images>); found ${classNames.length} class folder(s).`);
  const test = await classFolders(testRoot, '--test');
  const unknown = [...test.byClass.keys()].filter((name) => !classNames.includes(name));
  if (unknown.length) console.error(`warning: --test classes not in --train are left out: ${unknown.join(', ')}.`);
  const files = (byClass: Map<string, { file: string }[]>): LabelledFiles => {
    const out: LabelledFiles = { files: [], labels: [] };
    classNames.forEach((name, label) => {
      for (const item of byClass.get(name) ?? []) {
        out.files.push(item.file);
        out.labels.push(label);
      }
    });
    return out;
  };
  const trainFiles = files(train.byClass);
  const testFiles = files(test.byClass);
  if (testFiles.files.length === 0) throw new Error(`--test ${testRoot} has no images in class folders named like --train's (${classNames.join(', ')}).`);

  const engine = await chooseEngine(options);
  const what = options.randomInit ? `random-init ${config.arch} x${config.width} (seed ${config.seed})` : path.basename(checkpoint!);
  const step = metadata?.position.globalStep;
  console.error(`Backbone: ${what}; ${trainFiles.files.length} train / ${testFiles.files.length} test images, ${classNames.length} classes; ${size} px.`);
  const bar = phaseBar();
  const started = performance.now();
  let report;
  try {
    report = await evaluateQuality({
      checkpoint,
      randomInit: Boolean(options.randomInit),
      config,
      train: trainFiles,
      test: testFiles,
      classes: classNames.length,
      size,
      perClass: options.perClass,
      draws: options.draws,
      fineTune: Boolean(options.fineTune),
      onProgress: (phase, done, total) => bar.update(phase, done, total),
    });
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  if (report.skipped) console.error(`${report.skipped} files could not be decoded and were left out.`);
  console.log(`kNN top-1: ${percent(report.knn)} (k = 200, t = 0.1; ${report.trainImages} train / ${report.testImages} test images)`);
  console.log(`k-means of the test images (k = ${report.clusters.k}): NMI ${report.clusters.nmi.toFixed(4)}, ARI ${report.clusters.ari.toFixed(4)}, purity ${report.clusters.purity.toFixed(4)}`);
  if (options.draws > 0) {
    console.log(`${options.perClass}-label linear probe: test ${drawsText(report.probe)}`);
    if (options.fineTune) console.log(`${options.perClass}-label fine-tune (LP-FT): test ${drawsText(report.fineTune)}`);
  }
  console.log(`(${what}, ${size} px, engine ${engine.chosen}, ${seconds.toFixed(0)} s)`);
  if (options.json) {
    const out = {
      backbone: { checkpoint: checkpoint ?? null, randomInit: Boolean(options.randomInit), arch: config.arch, width: config.width, seed: config.seed, step: step ?? null, imagesSeen: step !== undefined && !options.randomInit ? step * config.batch : 0 },
      classes: classNames,
      perClass: options.perClass,
      engine: engine.chosen,
      seconds,
      ...report,
    };
    fs.mkdirSync(path.dirname(path.resolve(options.json)), { recursive: true });
    fs.writeFileSync(path.resolve(options.json), `${JSON.stringify(out, null, 2)}\n`);
  }
}

/** Registers `evaluate` on the program. */
export function registerEvaluateCommand(program: Command): void {
  const command = program
    .command('evaluate')
    .description('representation quality of a backbone on class folders: kNN top-1, k-means NMI/ARI/purity (k = classes), few-label linear probe and LP-FT fine-tune over label draws')
    .argument('[checkpoint]', 'a run folder or checkpoint (.safetensors)')
    .requiredOption('--train <folder>', 'labelled images: one subfolder per class (the kNN bank; few labels are drawn from it)')
    .requiredOption('--test <folder>', 'images to test on, one subfolder per class (named like --train’s)')
    .option('--random-init', "evaluate the untrained backbone of the checkpoint's architecture, initialised with its seed (the baseline)")
    .addOption(new Option('--preset <name>', 'architecture for --random-init without a checkpoint').choices(presetNames).default('cpu-small'))
    .option('--size <px>', 'input size (default: the size the app uses the backbone at; see the README)', integer('--size', 32))
    .option('--per-class <n>', 'labels per class for the few-label classifiers', integer('--per-class', 1), 10)
    .option('--draws <n>', 'label draws (seeds 1..n); 0 skips the few-label classifiers', integer('--draws', 0), 3)
    .option('--fine-tune', 'also fine-tune the whole backbone per draw (LP-FT; minutes each), not only the linear probe')
    .option('--json <file>', 'also write the numbers as JSON');
  addEngineOptions(command).action(async (checkpointArg: string | undefined, options: EvaluateOptions) => evaluate(checkpointArg, options));
}
