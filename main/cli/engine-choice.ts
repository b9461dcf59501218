import type { EngineName, EngineReport } from '../common/engine';
import { selectEngine } from '../engine/backend';

/**
 * The engine a command runs on, and how the command line says it: the one module every
 * command uses, whether the engine is chosen in this process (knn, embed, cluster, finetune)
 * or in the trainer process of a run (pretrain reports the trainer's choice).
 */

/** The lines printed for an engine report: the engine and why, then each better one passed over. */
export function engineLines(engine: EngineReport): string[] {
  const lines = [`Engine: ${engine.chosen}${engine.fallbackReason ? ` — ${engine.fallbackReason}` : ''}`];
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

/** Chooses the engine for work in this process (once, at start-up) and prints the choice. */
export async function chooseEngine(requested: EngineName | 'auto'): Promise<EngineReport> {
  const engine = await selectEngine(requested);
  printEngine(engine);
  return engine;
}
