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
  return buildEntry(path.join(repoRoot, 'main', 'cli.ts'), 'cli');
}

/**
 * Builds one TypeScript entry point (and what it imports from the sources) into
 * out/test-cli/<pid>-<name>/<name>.js, for a test that runs it as a child process.
 */
export async function buildEntry(entry: string, name: string): Promise<string> {
  const outDir = path.join(repoRoot, 'out', 'test-cli', name === 'cli' ? String(process.pid) : `${process.pid}-${name}`);
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
        input: { [name]: entry },
        output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: 'chunk-[name]-[hash].js' },
      },
    },
  });
  const built = path.join(outDir, `${name}.js`);
  if (!fs.existsSync(built)) throw new Error(`building ${entry} did not produce ${built}`);
  return built;
}

/** Removes what `buildCli` or `buildEntry` built. */
export function removeBuiltCli(cli: string): void {
  fs.rmSync(path.dirname(cli), { recursive: true, force: true });
}
