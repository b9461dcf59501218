import { z } from 'zod';
import { engineNames } from './engine';

/**
 * User settings: one schema gives the defaults, the validation of every change, and the type.
 * Unknown keys are refused so a typo never silently does nothing.
 */
export const settingsSchema = z
  .object({
    /** Colour theme of the app. */
    theme: z.enum(['system', 'light', 'dark']).default('system'),
    /** Which engine to train on: 'auto' picks the best that works here. */
    engine: z.enum(['auto', ...engineNames]).default('auto'),
    /** Ask for confirmation before deleting folders, runs or classes. */
    confirmBeforeDelete: z.boolean().default(true),
  })
  .strict();

export type Settings = z.infer<typeof settingsSchema>;

/** A partial change to the settings; each present field is validated like the full schema. */
export const settingsPatchSchema = settingsSchema.partial().strict();

export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

/** The default settings of a fresh install. */
export function defaultSettings(): Settings {
  return settingsSchema.parse({});
}
