import { InvalidArgumentError, Option, type Command } from 'commander';
import { engineNames, threadsLabel, type EngineName, type EngineReport, type ThreadSetting } from '../common/engine';
import { selectEngine } from '../engine/backend';

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

/** Starts the engine the flags ask for (the engine name may come from a run's config instead). */
export function startEngine(flags: EngineFlags, engine: EngineName | 'auto' = flags.engine): Promise<EngineReport> {
  return selectEngine(engine, { threads: flags.threads });
}

/** "wasm, 2 threads" (the TensorFlow engines size their own thread pool: no count). */
export function engineSummary(report: EngineReport): string {
  const threads = threadsLabel(report.threads);
  return `${report.chosen}${threads ? `, ${threads}` : ''}${report.fallbackReason ? ` — ${report.fallbackReason}` : ''}`;
}
