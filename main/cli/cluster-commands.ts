import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { clusterScores, minScoredImages } from '../common/cluster-metrics';
import { defaultClusterCount, distanceMetrics, type DistanceMetric } from '../common/embeddings';
import { evalSizeFor, type PretrainConfig } from '../common/pretrain-config';
import { listImageFiles } from '../data/files';
import { onCpuEngine } from '../engine/backend/backend';
import { embedFiles } from '../engine/compute/compute-jobs';
import { kmeans } from '../engine/analysis/kmeans';
import { JigCluTrainer } from '../engine/jigclu/trainer';
import { resolveCheckpointArgument } from './checkpoint-argument';
import { addEngineOptions, chooseEngine, engineSummary, type EngineFlags } from './engine-choice';

/**
 * `jigclu embed` and `jigclu cluster`: the Clusters screen for scripts. Embeddings of every
 * image under a folder by a checkpoint's backbone (or a random-init one) as CSV, and k-means
 * clusters of them as CSV (path, cluster, distance) with NMI / ARI / purity against the class
 * folder names when there are any.
 */

function integer(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed)) throw new InvalidArgumentError(`${name} must be a whole number.`);
    return parsed;
  };
}

interface EmbedOptions extends EngineFlags {
  randomInit?: boolean;
  batch: number;
}

/** Embeds every image under `folder`, with a progress bar (counts, rate, ETA); skipped files are reported. */
async function embedFolder(checkpointArg: string, folder: string, options: EmbedOptions): Promise<{ files: string[]; classNames: string[]; vectors: Float32Array; dim: number; config: PretrainConfig; what: string }> {
  const checkpoint = resolveCheckpointArgument(checkpointArg);
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) throw new Error(`${folder} is not a folder of images.`);
  const config = JigCluTrainer.readMetadata(fs.readFileSync(checkpoint)).config;
  const engine = await chooseEngine(options);
  const listed = await listImageFiles(folder);
  if (listed.length === 0) throw new Error(`${folder} has no image files.`);
  const size = evalSizeFor(config);
  const interactive = Boolean(process.stderr.isTTY);
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'Embedding |{bar}| {value}/{total} images · ETA {eta_formatted}', hideCursor: interactive, noTTYOutput: !interactive, notTTYSchedule: 5000 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(listed.length, 0);
  const kept: { file: string; className: string; vector: Float32Array }[] = [];
  let dim = 0;
  const result = await embedFiles(
    { kind: 'embed', checkpoint: options.randomInit ? undefined : checkpoint, config, files: listed.map((item) => item.file), size, batch: options.batch },
    {
      progress: (done) => bar.update(done),
      chunk: (chunk) => {
        const width = chunk.indices.length ? chunk.vectors.length / chunk.indices.length : 0;
        chunk.indices.forEach((index, row) => kept.push({ file: listed[index]!.file, className: listed[index]!.className, vector: chunk.vectors.slice(row * width, (row + 1) * width) }));
        for (const failure of chunk.failed) console.error(`\nSkipped ${listed[failure.index]!.file}: ${failure.reason}`);
      },
    },
  );
  bar.stop();
  dim = result.dim;
  const vectors = new Float32Array(kept.length * dim);
  kept.forEach((item, i) => vectors.set(item.vector, i * dim));
  const what = options.randomInit ? `random-init ${config.arch} x${config.width}` : path.basename(checkpoint);
  console.error(`${kept.length} images embedded (${dim} features, ${size} px, ${what}, engine ${engineSummary(engine)}).`);
  return { files: kept.map((item) => item.file), classNames: kept.map((item) => item.className), vectors, dim, config, what };
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Registers `embed` and `cluster` on the program. */
export function registerClusterCommands(program: Command): void {
  const common = (command: Command): Command =>
    addEngineOptions(command.option('--random-init', "use a randomly initialised backbone of the checkpoint's architecture (the untrained baseline)")).option(
      '--batch <n>',
      'images per forward pass',
      integer('--batch'),
      64,
    );

  common(
    program
      .command('embed')
      .description("backbone features (global average pool, L2-normalised) of every image under a folder, as CSV: path, f0, f1, ...")
      .argument('<checkpoint>', 'a checkpoint (.safetensors) or run folder')
      .argument('<folder>', 'folder of images (searched recursively)'),
  )
    .requiredOption('--out <file>', 'CSV file to write')
    .action(async (checkpointArg: string, folder: string, options: EmbedOptions & { out: string }) => {
      const embedded = await embedFolder(checkpointArg, path.resolve(folder), options);
      const lines = [['path', ...Array.from({ length: embedded.dim }, (_, i) => `f${i}`)].join(',')];
      embedded.files.forEach((file, i) => {
        const row = Array.from(embedded.vectors.subarray(i * embedded.dim, (i + 1) * embedded.dim), (value) => value.toPrecision(7));
        lines.push([csvField(file), ...row].join(','));
      });
      fs.writeFileSync(path.resolve(options.out), `${lines.join('\n')}\n`);
      console.log(`Embeddings written to ${path.resolve(options.out)}`);
    });

  common(
    program
      .command('cluster')
      .description('k-means (k-means++ seeding) of the images under a folder by their backbone features; CSV of path, cluster, distance; scores against class folders')
      .argument('<checkpoint>', 'a checkpoint (.safetensors) or run folder')
      .argument('<folder>', 'folder of images (searched recursively; class subfolders are used as labels for the scores)'),
  )
    .option('--k <n>', 'number of clusters (default: about sqrt(images / 2))', integer('--k'))
    .addOption(new Option('--metric <name>', 'distance').choices(distanceMetrics).default('cosine'))
    .option('--seed <n>', 'random seed of the seeding', integer('--seed'), 0)
    .requiredOption('--out <file>', 'CSV file to write (path, cluster, distance)')
    .action(async (checkpointArg: string, folder: string, options: EmbedOptions & { k?: number; metric: DistanceMetric; seed: number; out: string }) => {
      const embedded = await embedFolder(checkpointArg, path.resolve(folder), options);
      const n = embedded.files.length;
      const k = options.k ?? defaultClusterCount(n);
      if (k < 2 || k > n) throw new Error(`--k must be between 2 and the number of images (${n}).`);
      const started = performance.now();
      const result = await onCpuEngine(() => kmeans(embedded.vectors, n, embedded.dim, { k, seed: options.seed, metric: options.metric }));
      const lines = ['path,cluster,distance'];
      embedded.files.forEach((file, i) => lines.push(`${csvField(file)},${result.assignments[i]},${result.distances[i]!.toPrecision(6)}`));
      fs.writeFileSync(path.resolve(options.out), `${lines.join('\n')}\n`);
      const sizes = Array.from({ length: k }, (_, cluster) => result.assignments.filter((a) => a === cluster).length);
      console.log(`k-means: ${n} images, k = ${k}, ${options.metric}, seed ${options.seed}: ${result.iterations} iterations in ${((performance.now() - started) / 1000).toFixed(2)} s, inertia ${result.inertia.toFixed(4)}; cluster sizes ${sizes.join(' ')}.`);
      const names = [...new Set(embedded.classNames.filter((name) => name !== ''))].sort();
      if (names.length >= 2) {
        const labels = embedded.classNames.map((name) => (name === '' ? null : names.indexOf(name)));
        const scores = clusterScores(result.assignments, labels);
        // The same scores as the app's; the app hides them under minScoredImages, a script is told.
        const rough = scores.labelled < minScoredImages ? ` Fewer than ${minScoredImages} images: a rough guide only (the app hides such scores).` : '';
        console.log(
          `Against the ${names.length} class folders (${scores.labelled} labelled images): NMI ${scores.nmi!.toFixed(4)}, ARI ${scores.adjustedRandIndex!.toFixed(4)}, purity ${scores.purity!.toFixed(4)}.${rough}`,
        );
      } else {
        console.log('No class folders: no scores against labels.');
      }
      console.log(`Clusters written to ${path.resolve(options.out)}`);
    });
}
