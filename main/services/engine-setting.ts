import type { EngineName, ThreadSetting } from '../common/engine';
import { settingsSchema } from '../common/settings';
import type { Database } from '../store/db';
import { SettingsRepository } from '../store/settings-repository';

/** The engine the settings ask for ('auto' unless the user chose one, e.g. with "Force CPU"). */
export function engineSetting(db: Database): EngineName | 'auto' {
  const parsed = settingsSchema.shape.engine.safeParse(new SettingsRepository(db).all().engine);
  return parsed.success ? parsed.data : 'auto';
}

/**
 * The engine a job asks its process for: a run's own engine when it names one, otherwise (its
 * config says 'auto') the engine of the settings, so "Force CPU" holds for every job, also for
 * runs started before the switch was turned on.
 */
export function jobEngine(db: Database, requested: EngineName | 'auto'): EngineName | 'auto' {
  return requested === 'auto' ? engineSetting(db) : requested;
}

/** The wasm engine's thread setting every job's process starts with ('auto' unless the user chose a count). */
export function jobThreads(db: Database): ThreadSetting {
  const parsed = settingsSchema.shape.threads.safeParse(new SettingsRepository(db).all().threads);
  return parsed.success ? parsed.data : 'auto';
}
