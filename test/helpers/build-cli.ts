import fs from 'node:fs';
import path from 'node:path';
import { build } from 'vite';
import { repoRoot } from './library';

/**
 * Builds the `jigclu` command from the current sources into out/test-cli/<pid>/cli.js, for tests
 * that run it as a child process (vitest runs TypeScript, a child `node` needs JavaScript).
 * It lives under out/ so that its imports resolve from the project's node_modules.
 */
export async function buildCli(): Promise<string> {
  const outDir = path.join(repoRoot, 'out', 'test-cli', String(process.pid));
  fs.rmSync(outDir, { recursive: true, force: true });
  await build({
    configFile: false,
    root: repoRoot,
    logLevel: 'error',
    build: {
      ssr: true,
      outDir,
      emptyOutDir: true,
      target: 'node20',
      minify: false,
      rollupOptions: {
        input: { cli: path.join(repoRoot, 'main', 'cli.ts') },
        output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: 'chunk-[name]-[hash].js' },
      },
    },
  });
  const cli = path.join(outDir, 'cli.js');
  if (!fs.existsSync(cli)) throw new Error(`building the CLI did not produce ${cli}`);
  return cli;
}

/** Removes what `buildCli` built. */
export function removeBuiltCli(cli: string): void {
  fs.rmSync(path.dirname(cli), { recursive: true, force: true });
}
