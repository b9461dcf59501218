import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import type { AppInfo } from '../common/api-contract';
import { engineDisplayName, threadsLabel } from '../common/engine';
import { startCore } from '../core';
import { releaseWebGpu } from '../engine/backend/webgpu';
import { defaultDataDir } from '../paths';
import { startBrowserHost } from '../server/host';
import { registerClusterCommands } from './cluster-commands';
import { registerEvaluateCommand } from './evaluate-command';
import { registerFinetuneCommands } from './finetune-commands';
import { registerLibraryCommands } from './library-commands';
import { registerPretrainCommands } from './pretrain-commands';
import { registerSampleCommand } from './sample-command';
import { registerScaleoutCommands } from './scaleout-commands';
import { appVersion } from '../version';

/** The built renderer, beside the built entry points (out/main -> out/renderer). */
export function builtRendererDir(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'renderer');
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError('a port is a whole number from 0 to 65535 (0 picks a free one).');
  }
  return port;
}

/** Formats app info as the lines `jigclu info` prints. */
export function formatAppInfo(info: AppInfo): string {
  const lines = [
    `${info.name} ${info.version} (${info.mode})`,
    `Data folder:   ${info.dataDir}${info.readOnly ? ' (read-only: what it holds is shown; commands that change it are refused)' : ''}`,
    `Database:      ${info.databasePath} (schema ${info.schemaVersion}, SQLite ${info.versions.sqlite})`,
    `Platform:      ${info.platform} ${info.arch}, Node ${info.versions.node}`,
    `Engine:        ${info.engine.chosen} — ${engineDisplayName(info.engine)}${info.engine.threads ? `, ${threadsLabel(info.engine.threads)}` : ''}`,
  ];
  if (info.engine.fallbackReason) lines.push(`               ${info.engine.fallbackReason}`);
  if (info.engine.gpu && info.engine.gpu.issue !== 'ok') {
    lines.push(`GPU:           ${info.engine.gpu.reason}`);
    if (info.engine.gpu.install) lines.push(`               To use it: ${info.engine.gpu.install}`);
  }
  lines.push('Engines (best first):');
  for (const candidate of info.engine.candidates) {
    lines.push(`  ${candidate.available ? 'yes' : 'no '}  ${candidate.name.padEnd(14)} ${candidate.reason}`);
    if ((!candidate.available || candidate.onlyWhenAsked) && candidate.remedy) lines.push(`       ${''.padEnd(14)} ${candidate.onlyWhenAsked ? 'For a hardware GPU' : 'To use it'}: ${candidate.remedy}`);
  }
  return lines.join('\n');
}

export interface ServeOptions {
  dataDir: string;
  port: number;
}

/** Starts browser mode and resolves once it is listening; SIGINT/SIGTERM stop it cleanly. */
export async function serve(options: ServeOptions, log: (line: string) => void = console.log): Promise<() => Promise<void>> {
  const core = startCore({ dataDir: options.dataDir, mode: 'browser' });
  const host = await startBrowserHost({
    handlers: core.handlers,
    hub: core.hub,
    media: core.media,
    staticDir: builtRendererDir(),
    port: options.port,
  });
  log(`JigClu Studio (browser mode) is running at ${host.url}`);
  log(`Data folder: ${core.dataDir}. Only this machine can connect; press Ctrl+C to stop.`);
  const stop = async (): Promise<void> => {
    // A run in progress stops with a checkpoint and is resumable from the app (interrupted).
    if (core.hasActiveRun()) {
      log('Stopping the training run (writing a checkpoint)...');
      await core.stopTraining();
    }
    await host.close();
    core.close();
  };
  const onSignal = (): void => {
    stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return stop;
}

/** The `jigclu` command line. Later issues add commands here. */
export function buildProgram(): Command {
  const program = new Command('jigclu')
    .description('JigClu Studio: self-supervised Jigsaw Clustering pretraining on your own images, from the command line.')
    .version(appVersion)
    .option('--data-dir <folder>', 'data folder (database, thumbnails, checkpoints)', defaultDataDir())
    .showHelpAfterError();

  program
    .command('info')
    .description('print the app version, data folder and which tfjs engine is available (and why better ones are not)')
    .option('--json', 'print JSON instead of text')
    .action(async (options: { json?: boolean }) => {
      const core = startCore({ dataDir: program.opts<{ dataDir: string }>().dataDir, mode: 'cli' });
      try {
        const info = await core.handlers.appInfo({});
        console.log(options.json ? JSON.stringify(info, null, 2) : formatAppInfo(info));
      } finally {
        core.close();
      }
    });

  program
    .command('serve')
    .description('run the app in browser mode on http://127.0.0.1 (with a per-launch token)')
    .option('--port <port>', 'port to listen on (0 picks a free one)', parsePort, 0)
    .action(async (options: { port: number }) => {
      await serve({ dataDir: program.opts<{ dataDir: string }>().dataDir, port: options.port });
    });

  registerPretrainCommands(program);
  registerScaleoutCommands(program);
  registerSampleCommand(program);
  registerLibraryCommands(program);
  registerClusterCommands(program);
  registerFinetuneCommands(program);
  registerEvaluateCommand(program);
  return program;
}

/** One line for a failed command; a file system refusal says which folder and what to do. */
export function cliErrorMessage(error: unknown): string {
  const { code, path: where, message } = error as NodeJS.ErrnoException;
  const place = where ? path.dirname(where) : undefined;
  if ((code === 'EROFS' || code === 'EACCES' || code === 'EPERM') && place) {
    return `${place} cannot be written (${code}): choose a writable folder (--out, --data-dir), or make it writable.`;
  }
  if ((code === 'ENOSPC' || code === 'EDQUOT') && place) return `The disk holding ${place} is full: free some space there, then try again.`;
  return message ?? String(error);
}

/** Runs the program and turns errors into one clear line and exit code 1. */
export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    console.error(`jigclu: ${cliErrorMessage(error)}`);
    process.exitCode = 1;
  } finally {
    // A WebGPU device keeps the process alive (and a core polling): let it go.
    releaseWebGpu();
  }
}
