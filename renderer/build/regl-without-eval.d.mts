import type { Plugin } from 'vite';

/** The line of regl 2.1.x the plugin replaces. */
export const reglCompileLine: string;
/** The table of precompiled programs. */
export const programsFile: URL;
/** cyrb53: a 53-bit hash of `text` as 14 hex digits. */
export function programKey(text: string): string;
/** The installed versions of regl and regl-scatterplot. */
export function libraryVersions(): Record<string, string>;
/** The Vite plugin that makes regl use the precompiled programs (or record them). */
export function reglWithoutEval(options?: { record?: boolean }): Plugin;
