#!/usr/bin/env node
/**
 * The `jigclu` command (package.json "bin"): a launcher for the built CLI, out/main/cli.js.
 * It is committed with its execute bit, so `npx jigclu` works on a fresh clone after
 * `npm run build` and after every rebuild: the build writes out/main/cli.js anew without an
 * execute bit, and npm sets that bit only when it links a bin. Plain JavaScript, so it can say
 * what to do when the build is missing.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../out/main/cli.js', import.meta.url);
if (!fs.existsSync(fileURLToPath(cli))) {
  console.error(
    `jigclu: the command is not built yet (${fileURLToPath(cli)} is missing): run \`npm run build\` first.`,
  );
  process.exit(1);
}
await import(cli.href);
