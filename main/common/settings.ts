import { z } from 'zod';
import { engineNames } from './engine';

/**
 * User settings: one schema gives the defaults, the validation of every change, and the type.
 * Unknown keys are refused so a typo never silently does nothing.
 */
const settingFields = {
  /** Colour theme of the app. */
  theme: z.enum(['system', 'light', 'dark']),
  /** Which engine to train on: 'auto' picks the best that works here. */
  engine: z.enum(['auto', ...engineNames]),
  /**
   * Threads of the WebAssembly engine (pretraining, embedding, fine-tuning, k-means): 'auto' is
   * one per physical core; the engine uses at most 8.
   */
  threads: z.union([z.literal('auto'), z.number().int().min(1).max(64)]),
  /** Ask for confirmation before deleting folders, runs or classes. */
  confirmBeforeDelete: z.boolean(),
};

export const settingsSchema = z
  .object({
    theme: settingFields.theme.default('system'),
    engine: settingFields.engine.default('auto'),
    threads: settingFields.threads.default('auto'),
    confirmBeforeDelete: settingFields.confirmBeforeDelete.default(true),
  })
  .strict();

export type Settings = z.infer<typeof settingsSchema>;

/**
 * A partial change to the settings; each present field is validated like the full schema.
 * Built from the fields without defaults: zod's .partial() would fill absent fields with their
 * defaults and so reset every setting the patch does not name.
 */
export const settingsPatchSchema = z.object(settingFields).partial().strict();

export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

/** The default settings of a fresh install. */
export function defaultSettings(): Settings {
  return settingsSchema.parse({});
}
