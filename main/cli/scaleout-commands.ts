import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { presetNames, type PresetName } from '../common/pretrain-config';
import { startCore, type Core } from '../core';
import { readSafetensorsHeader } from '../engine/weights/safetensors';
import { quotePath } from './library-commands';
import { followTask } from './progress';

/**
 * `jigclu export-job`, `jigclu import-job`, `jigclu import-weights`: a run of the app's data
 * folder handed to PyTorch DDP (torchrun) and the result taken back, or weights trained
 * elsewhere brought in, through the same service calls as the app's run page.
 */

function wholeNumber(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`${name} must be a whole number.`);
    return parsed;
  };
}

/**
 * The run to export from an argument: a run id of the data folder, or a run folder (the app's or
 * one `jigclu pretrain` trained; a name alone is looked up in the data folder's runs/), or one of
 * its checkpoint files (then also its step).
 */
export async function resolveRun(core: Core, argument: string): Promise<{ runId?: number; runFolder?: string; step?: number }> {
  if (/^\d+$/.test(argument) && (await core.handlers.runsList({})).some((run) => run.id === Number(argument))) return { runId: Number(argument) };
  // A run folder's name alone means that folder of the data folder's runs/ (as the app lists them).
  const inRuns = path.join(core.dataDir, 'runs', argument);
  const target = fs.existsSync(path.resolve(argument)) || !fs.existsSync(inRuns) ? path.resolve(argument) : inRuns;
  if (!fs.existsSync(target)) throw new Error(`${argument} is neither a run id of the data folder ${core.dataDir}, nor a run folder (there or of its runs/), nor a checkpoint.`);
  if (fs.statSync(target).isDirectory()) return { runFolder: target };
  const position = JSON.parse(readSafetensorsHeader(target).metadata.position ?? 'null') as { globalStep: number } | null;
  if (!position) throw new Error(`${argument} is not a JigClu Studio checkpoint (its metadata has no position).`);
  return { runFolder: path.dirname(path.dirname(target)), step: position.globalStep };
}

/** Registers the scale-out commands on the program. */
export function registerScaleoutCommands(program: Command): void {
  const open = (): Core => startCore({ dataDir: program.opts<{ dataDir: string }>().dataDir, mode: 'cli', library: { autoThumbnails: false } });

  program
    .command('export-job')
    .description('export a run as a PyTorch DDP job folder for torchrun (job.json, manifest.tsv, init.safetensors, jigclu_ddp.py, run.sh, golden/)')
    .argument('<run-or-checkpoint>', 'a run id of the data folder, a run folder (the app\'s or one `jigclu pretrain` trained) or one of its checkpoints')
    .requiredOption('--out <folder>', 'the folder to create the job folder in')
    .option('--step <n>', "the checkpoint's step (default: the newest, or the checkpoint given)", wholeNumber('--step'))
    .action(async (runArg: string, options: { out: string; step?: number }) => {
      const core = open();
      try {
        const run = await resolveRun(core, runArg);
        const step = options.step ?? run.step;
        const started = await core.handlers.jobExport({ ...(run.runId !== undefined ? { runId: run.runId } : { runFolder: run.runFolder! }), ...(step !== undefined ? { step } : {}), destination: path.resolve(options.out) });
        const final = await followTask(core.hub, core.tasks, started.task);
        if (final.status !== 'finished') throw new Error(final.error ?? `the export was ${final.status}`);
        const job = JSON.parse(fs.readFileSync(path.join(started.path, 'job.json'), 'utf8')) as { jobId: string; imageCount: number; stepsPerEpoch: number; config: { epochs: number }; start: { epoch: number }; roots: Record<string, string> };
        const epochs = Math.max(job.config.epochs, job.start.epoch + 1);
        console.log(`Job ${job.jobId}: ${job.imageCount} images, ${job.stepsPerEpoch} steps per epoch, from epoch ${job.start.epoch} of ${job.config.epochs}.`);
        console.log(`Job folder: ${started.path}`);
        console.log('On the cluster, inside that folder:');
        console.log(`  python3 jigclu_ddp.py selftest ${Object.keys(job.roots).map((alias) => `--root ${alias}=<where ${job.roots[alias]} is>`).join(' ')}`);
        console.log(`  python3 -m torch.distributed.run --nproc_per_node N jigclu_ddp.py --epochs ${epochs} --out out`);
        console.log(`Then here: jigclu import-job ${quotePath(path.join(started.path, 'out'))}`);
      } finally {
        await core.tasks.cancelAll();
        core.close();
      }
    });

  program
    .command('import-job')
    .description("import a DDP job's output folder (the trainer's --out) as a new run with its parent, checkpoints and curves")
    .argument('<folder>', "the job's output folder")
    .action(async (folder: string) => {
      const core = open();
      try {
        const imported = await core.handlers.jobImport({ path: path.resolve(folder) });
        const parent = imported.run.parentRunId === null ? '' : ` from run ${imported.run.parentRunId} at step ${imported.run.parentStep}`;
        console.log(`Imported ${imported.run.name} (run ${imported.run.id}, ${imported.engine}${parent}): ${imported.checkpoints} checkpoints, ${imported.metrics} steps, status ${imported.run.status}.`);
        console.log(`Its folder: ${quotePath(imported.run.runDir)}`);
      } finally {
        core.close();
      }
    });

  program
    .command('import-weights')
    .description('import a torchvision ResNet-18/50 state dict or a reference JigClu checkpoint (.safetensors; .pth/.pth.tar with Python torch) as a run at step 0 on the library')
    .argument('<file>', 'the weights')
    .addOption(new Option('--preset <name>', "the other settings of the run (default: resnet18's, or paper's for a ResNet-50)").choices(presetNames))
    .action(async (file: string, options: { preset?: PresetName }) => {
      const core = open();
      try {
        const imported = await core.handlers.weightsImport({ path: path.resolve(file), ...(options.preset ? { preset: options.preset } : {}) });
        const config = imported.run.config;
        console.log(
          `Imported ${imported.run.name} (run ${imported.run.id}): ${imported.source} weights, ${config.arch} width ${config.width}, heads ${imported.heads === 'imported' ? 'from the file' : 'at random init'}; ` +
            `continue it to pretrain on ${imported.run.imageCount} library images, or use its checkpoint for clusters and fine-tuning.`,
        );
      } finally {
        core.close();
      }
    });
}
