import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { clusterScores, minScoredImages } from '../common/cluster-metrics';
import { defaultClusterCount, distanceMetrics, type DistanceMetric } from '../common/embeddings';
import type { EngineReport } from '../common/engine';
import type { Core } from '../core';
import { listImageFiles } from '../data/files';
import { resolveCheckpointArgument } from './checkpoint-argument';
import { checkpointSource, dataDirOf, finishTask, withCore } from './core-session';
import { addEngineOptions, engineSummary, printEngine, type EngineFlags } from './engine-choice';
import { csvField } from './finetune-commands';
import { libraryFoldersOf } from './pretrain-run';

/**
 * `jigclu embed` and `jigclu cluster`: the Clusters screen for scripts, through the same core
 * services. Embeddings of every image under a folder by a checkpoint's backbone (or a
 * random-init one) as CSV, and k-means clusters of them as CSV (path, cluster, distance) with
 * NMI / ARI / purity against the class folder names when there are any. The folder joins the
 * library, the embeddings and the clustering are stored in the data folder, and the app lists
 * them (embeddingSets, clusteringLatest) under the checkpoint's run.
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

interface Embedded {
  setId: number;
  folderIds: number[];
  under?: string[];
  files: string[];
  vectors: Float32Array;
  dim: number;
}

/**
 * Embeds every image under `folder` through the core, as the Clusters screen does: the folder is
 * imported into the library (or rescanned), the checkpoint's run is the source, and the vectors
 * land in the app's embedding set, computed as a task with a progress bar (counts, rate, ETA;
 * Ctrl+C cancels, keeping what was stored).
 */
async function embedFolder(core: Core, checkpointArg: string, folder: string, options: EmbedOptions): Promise<Embedded> {
  const checkpoint = resolveCheckpointArgument(checkpointArg);
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) throw new Error(`${folder} is not a folder of images.`);
  const { folderIds, under } = await libraryFoldersOf(core, [folder]);
  const { run, source } = checkpointSource(core, checkpoint, Boolean(options.randomInit));
  let engine: EngineReport | undefined;
  const placement = { under, engine: options.engine, threads: options.threads, batch: options.batch, onEngine: (report: EngineReport) => printEngine((engine = report)) };
  const started = core.services.embeddings.compute(source, folderIds, placement);
  if (started.task) await finishTask(core, started.task, 'the embeddings computed so far are kept in the data folder; run the same command again to go on.');
  const { images, vectors, dim } = core.services.embeddings.vectorsOf(started.set.id, folderIds, under);
  const what = options.randomInit ? `random-init ${run.config.arch} x${run.config.width}` : path.basename(checkpoint);
  const how = engine ? `engine ${engineSummary(engine)}` : 'stored before';
  console.error(`${images.length} images embedded (${dim} features, ${started.set.size} px, ${what}, ${how}); the app lists them as ${started.set.label}.`);
  return { setId: started.set.id, folderIds, ...(under ? { under } : {}), files: images.map((image) => image.path), vectors, dim };
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
    .action((checkpointArg: string, folder: string, options: EmbedOptions & { out: string }) =>
      withCore(dataDirOf(program), async (core) => {
        const embedded = await embedFolder(core, checkpointArg, path.resolve(folder), options);
        const lines = [['path', ...Array.from({ length: embedded.dim }, (_, i) => `f${i}`)].join(',')];
        embedded.files.forEach((file, i) => {
          const row = Array.from(embedded.vectors.subarray(i * embedded.dim, (i + 1) * embedded.dim), (value) => value.toPrecision(7));
          lines.push([csvField(file), ...row].join(','));
        });
        fs.writeFileSync(path.resolve(options.out), `${lines.join('\n')}\n`);
        console.log(`Embeddings written to ${path.resolve(options.out)}`);
      }),
    );

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
    .action((checkpointArg: string, folder: string, options: EmbedOptions & { k?: number; metric: DistanceMetric; seed: number; out: string }) =>
      withCore(dataDirOf(program), async (core) => {
        const root = path.resolve(folder);
        const embedded = await embedFolder(core, checkpointArg, root, options);
        const n = embedded.files.length;
        const k = options.k ?? defaultClusterCount(n);
        if (k < 2 || k > n) throw new Error(`--k must be between 2 and the number of images (${n}).`);
        const started = performance.now();
        // Stored as the app's clustering of this embedding set (the Clusters screen lists it).
        const clustering = await core.services.embeddings.cluster(
          { setId: embedded.setId, k, metric: options.metric, seed: options.seed, folderIds: embedded.folderIds },
          { under: embedded.under, engine: options.engine, threads: options.threads },
        );
        const byImage = new Map(core.services.embeddings.repo.members(clustering.id).map((member) => [member.image_id, member]));
        const members = core.services.embeddings.vectorsOf(embedded.setId, embedded.folderIds, embedded.under).images.map((image) => ({ file: image.path, ...byImage.get(image.id)! }));
        const lines = ['path,cluster,distance'];
        for (const member of members) lines.push(`${csvField(member.file)},${member.cluster},${member.distance.toPrecision(6)}`);
        fs.writeFileSync(path.resolve(options.out), `${lines.join('\n')}\n`);
        const sizes = clustering.clusters.map((cluster) => cluster.size);
        console.log(
          `k-means: ${n} images, k = ${k}, ${options.metric}, seed ${options.seed}: ${clustering.iterations} iterations in ${((performance.now() - started) / 1000).toFixed(2)} s, inertia ${clustering.inertia.toFixed(4)}; cluster sizes ${sizes.join(' ')}.`,
        );
        // Scored against the class folder of each image (its first folder under the one given).
        const classOf = new Map((await listImageFiles(root)).map((item) => [item.file, item.className]));
        const classNames = members.map((member) => classOf.get(member.file) ?? '');
        const names = [...new Set(classNames.filter((name) => name !== ''))].sort();
        if (names.length >= 2) {
          const labels = classNames.map((name) => (name === '' ? null : names.indexOf(name)));
          const scores = clusterScores(members.map((member) => member.cluster), labels);
          // The same scores as the app's; the app hides them under minScoredImages, a script is told.
          const rough = scores.labelled < minScoredImages ? ` Fewer than ${minScoredImages} images: a rough guide only (the app hides such scores).` : '';
          console.log(
            `Against the ${names.length} class folders (${scores.labelled} labelled images): NMI ${scores.nmi!.toFixed(4)}, ARI ${scores.adjustedRandIndex!.toFixed(4)}, purity ${scores.purity!.toFixed(4)}.${rough}`,
          );
        } else {
          console.log('No class folders: no scores against labels.');
        }
        console.log(`Clusters written to ${path.resolve(options.out)}`);
        console.log(`The app lists it as clustering ${clustering.id} of ${core.services.embeddings.sets().find((set) => set.id === embedded.setId)?.label ?? 'its embedding set'}.`);
      }),
    );
}
