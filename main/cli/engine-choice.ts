import { InvalidArgumentError, Option, type Command } from 'commander';
import { engineNames, threadsLabel, type EngineName, type EngineReport, type ThreadSetting } from '../common/engine';
import { selectEngine } from '../engine/backend/backend';

/**
 * The engine a command runs on, and how the command line says it: the one module every
 * command uses for --engine/--threads, whether the engine is chosen in this process (knn,
 * embed, cluster, finetune) or in the trainer process of a run (pretrain reports the trainer's choice).
 */

/** The engine flags every command that computes takes. */
export interface EngineFlags {
  engine: EngineName | 'auto';
  threads: ThreadSetting;
}

/** Parses --threads: 'auto' or a whole number of at least 1. */
export function parseThreads(value: string): ThreadSetting {
  if (value === 'auto') return 'auto';
  const threads = Number(value);
  if (!Number.isInteger(threads) || threads < 1) throw new InvalidArgumentError("--threads must be 'auto' or a whole number of at least 1.");
  return threads;
}

/** Adds --engine and --threads to a command. */
export function addEngineOptions(command: Command): Command {
  return command
    .addOption(new Option('--engine <name>', 'tfjs engine').choices(['auto', ...engineNames]).default('auto'))
    .addOption(
      new Option('--threads <n>', "threads of the wasm engine: a number, or 'auto' for one per physical core (at most 8)").argParser(parseThreads).default('auto'),
    );
}

/** "wasm, 2 threads" (the TensorFlow engines size their own thread pool: no count), then why. */
export function engineSummary(report: EngineReport): string {
  const threads = threadsLabel(report.threads);
  return `${report.chosen}${threads ? `, ${threads}` : ''}${report.fallbackReason ? ` — ${report.fallbackReason}` : ''}`;
}

/** The lines printed for an engine report: the engine and why, then each better one passed over. */
export function engineLines(engine: EngineReport): string[] {
  const lines = [`Engine: ${engineSummary(engine)}`];
  for (const candidate of engine.candidates) {
    if (candidate.name === engine.chosen) break;
    lines.push(`  not ${candidate.name}: ${candidate.reason}`);
  }
  return lines;
}

/** Prints an engine report on stderr. */
export function printEngine(engine: EngineReport): void {
  for (const line of engineLines(engine)) console.error(line);
}

/**
 * Chooses the engine for work in this process (once, at start-up) with the flags' thread
 * count and prints the choice; `engine` overrides the flags' engine (a run's own config).
 */
export async function chooseEngine(flags: EngineFlags, engine: EngineName | 'auto' = flags.engine): Promise<EngineReport> {
  const report = await selectEngine(engine, { threads: flags.threads });
  printEngine(report);
  return report;
}
