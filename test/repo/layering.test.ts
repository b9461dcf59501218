import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const layeringRule = 'no-restricted-imports';

let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: repoRoot });
});

/** Lints `code` as if it were the file at `relativePath` in the repo; returns its messages. */
async function lintAs(relativePath: string, code: string): Promise<Linter.LintMessage[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(repoRoot, relativePath) });
  expect(result, relativePath).toBeDefined();
  // A parse error would also be "an error" without proving anything about layering.
  expect(result?.messages.filter((message) => message.fatal) ?? [], relativePath).toEqual([]);
  return result?.messages ?? [];
}

function layeringErrors(messages: Linter.LintMessage[]): Linter.LintMessage[] {
  return messages.filter((message) => message.ruleId === layeringRule && message.severity === 2);
}

/** A module that uses what it imports, so no other rule complains. */
function importing(specifier: string): string {
  return `import * as imported from '${specifier}';\n\nexport const used = imported;\n`;
}

describe('layering rule on single files', () => {
  it.each<[string, string]>([
    ['main/engine/x.ts', 'electron'],
    ['main/engine/x.ts', 'electron/main'],
    ['main/services/x.ts', '../../renderer/src/api/client'],
    ['main/services/x.ts', '../../electron/ipc-router'],
    ['renderer/src/x.ts', '../../main/store/db'],
    ['renderer/src/x.ts', '../../main/services/dispatch'],
    ['renderer/src/x.ts', 'electron'],
    ['renderer/src/x.ts', 'node:fs'],
    ['renderer/src/x.ts', 'fs'],
    ['renderer/src/x.ts', '../../electron/preload'],
    ['main/common/x.ts', 'node:fs'],
    ['main/common/x.ts', 'path'],
    ['main/common/x.ts', 'electron'],
    ['main/common/x.ts', '../store/db'],
    ['main/common/x.ts', 'better-sqlite3'],
    ['main/common/x.ts', '@tensorflow/tfjs-core'],
  ])('%s importing %s is a layering error', async (file, specifier) => {
    const errors = layeringErrors(await lintAs(file, importing(specifier)));
    expect(errors.length).toBeGreaterThan(0);
  });

  it.each<[string, string]>([
    ['renderer/src/x.ts', '../../main/common/result'],
    ['renderer/src/x.ts', '../../main/common/api-contract'],
    ['renderer/src/x.ts', 'vue'],
    ['electron/x.ts', 'electron'],
    ['electron/x.ts', 'node:fs'],
    ['electron/x.ts', '../main/core'],
    ['main/engine/x.ts', 'node:fs'],
    ['main/engine/x.ts', '../common/engine'],
    ['main/common/x.ts', 'zod'],
    ['main/common/x.ts', './result'],
    ['main/common/x.ts', '../common/result'],
  ])('%s importing %s is allowed', async (file, specifier) => {
    const messages = await lintAs(file, importing(specifier));
    expect(layeringErrors(messages)).toEqual([]);
  });

  // Detours through '..', npm packages in main/common, and native packages or prefix-only
  // builtins ('node:test' is not in builtinModules) in the renderer are refused too.
  it.each<[string, string]>([
    ['renderer/src/x.ts', '../../main/common/../store/db'],
    ['main/common/x.ts', '../common/../store/db'],
    ['main/common/x.ts', 'vue'],
    ['main/common/x.ts', 'node:test'],
    ['renderer/src/x.ts', 'better-sqlite3'],
  ])('%s importing %s is a layering error', async (file, specifier) => {
    const errors = layeringErrors(await lintAs(file, importing(specifier)));
    expect(errors.length).toBeGreaterThan(0);
  });

  it('reports the error with the layer-specific message', async () => {
    const [mainError] = layeringErrors(await lintAs('main/engine/x.ts', importing('electron')));
    expect(mainError?.message).toContain('main/ never imports electron');
    const [rendererError] = layeringErrors(
      await lintAs('renderer/src/x.ts', importing('../../main/store/db')),
    );
    expect(rendererError?.message).toContain('only main/common');
    const [commonError] = layeringErrors(await lintAs('main/common/x.ts', importing('node:fs')));
    expect(commonError?.message).toContain('no Node or Electron APIs');
  });

  it('applies to .vue files of the renderer too', async () => {
    const sfc = `<script setup lang="ts">\nimport { readFileSync } from 'node:fs';\nconst read = readFileSync;\n</script>\n\n<template>\n  <p>{{ typeof read }}</p>\n</template>\n`;
    const errors = layeringErrors(await lintAs('renderer/src/components/X.vue', sfc));
    expect(errors.length).toBeGreaterThan(0);
  });
});

describe('layering inside main/: data and the engine sub-folders', () => {
  // backend -> nn -> weights, analysis -> jigclu, classify -> compute (eslint.config.js, engineLayers)
  it.each<[string, string]>([
    ['main/data/x.ts', '../engine/jigclu/trainer'],
    ['main/data/augment/x.ts', '../../engine/nn/resnet'],
    ['main/data/x.ts', '../jobs/protocol'],
    ['main/data/x.ts', '../store/db'],
    ['main/engine/backend/x.ts', '../nn/conv'],
    ['main/engine/nn/x.ts', '../jigclu/trainer'],
    ['main/engine/nn/x.ts', '../weights/safetensors'],
    ['main/engine/nn/x.ts', '../../engine/compute/compute-jobs'],
    ['main/engine/weights/x.ts', '../jigclu/trainer'],
    ['main/engine/weights/x.ts', '../analysis/knn'],
    ['main/engine/analysis/x.ts', '../jigclu/trainer'],
    ['main/engine/analysis/x.ts', '../classify/finetune'],
    ['main/engine/jigclu/x.ts', '../classify/finetune'],
    ['main/engine/jigclu/x.ts', '../compute/compute-jobs'],
    ['main/engine/classify/x.ts', '../jigclu/trainer'],
    ['main/engine/classify/x.ts', '../compute/compute-jobs'],
    ['main/engine/compute/x.ts', '../../services/pretraining'],
    ['main/engine/jigclu/x.ts', '../../store/db'],
  ])('%s importing %s is a layering error', async (file, specifier) => {
    const errors = layeringErrors(await lintAs(file, importing(specifier)));
    expect(errors.length).toBeGreaterThan(0);
  });

  it.each<[string, string]>([
    ['main/data/x.ts', '../common/pretrain-config'],
    ['main/data/augment/x.ts', '../rng'],
    ['main/engine/nn/x.ts', '../backend/tfjs'],
    ['main/engine/nn/x.ts', '../../data/augment'],
    ['main/engine/weights/x.ts', '../nn/resnet'],
    ['main/engine/analysis/x.ts', '../nn/resnet'],
    ['main/engine/jigclu/x.ts', '../weights/safetensors'],
    ['main/engine/jigclu/x.ts', '../analysis/knn'],
    ['main/engine/classify/x.ts', '../analysis/feature-matrix'],
    ['main/engine/compute/x.ts', '../jigclu/trainer'],
    ['main/engine/compute/x.ts', '../classify/finetune'],
    ['main/engine/backend/x.ts', '../../jobs/launcher'],
  ])('%s importing %s is allowed', async (file, specifier) => {
    expect(layeringErrors(await lintAs(file, importing(specifier)))).toEqual([]);
  });

  it('names what the folder may import, and keeps main/ rules there', async () => {
    const [error] = layeringErrors(await lintAs('main/engine/nn/x.ts', importing('../jigclu/trainer')));
    expect(error?.message).toContain(
      'main/engine/nn may import only engine/backend (see main/engine/nn/README.md).',
    );
    const [electronError] = layeringErrors(await lintAs('main/engine/nn/x.ts', importing('electron')));
    expect(electronError?.message).toContain('main/ never imports electron');
  });
});

describe('layering of the service composition: main/jobs and services/context.ts', () => {
  it.each<[string, string]>([
    ['main/jobs/x.ts', '../services/pretraining'],
    ['main/jobs/x.ts', '../store/db'],
    ['main/jobs/x.ts', '../cli/program'],
    ['main/services/context.ts', './pretraining'],
    ['main/services/context.ts', './app-services'],
    ['main/services/context.ts', './runs'],
  ])('%s importing %s is a layering error', async (file, specifier) => {
    const errors = layeringErrors(await lintAs(file, importing(specifier)));
    expect(errors.length).toBeGreaterThan(0);
  });

  it.each<[string, string]>([
    ['main/jobs/x.ts', '../engine/compute/compute-jobs'],
    ['main/jobs/x.ts', '../common/result'],
    ['main/services/context.ts', './tasks'],
    ['main/services/context.ts', '../jobs/compute-client'],
    ['main/services/x.ts', './pretraining'],
  ])('%s importing %s is allowed', async (file, specifier) => {
    expect(layeringErrors(await lintAs(file, importing(specifier)))).toEqual([]);
  });

  it('says why, and keeps main/ rules there', async () => {
    const [contextError] = layeringErrors(await lintAs('main/services/context.ts', importing('./library')));
    expect(contextError?.message).toContain('context.ts imports no area service');
    const [jobsError] = layeringErrors(await lintAs('main/jobs/x.ts', importing('../services/tasks')));
    expect(jobsError?.message).toContain('main/jobs');
    const [electronError] = layeringErrors(await lintAs('main/services/context.ts', importing('electron')));
    expect(electronError?.message).toContain('main/ never imports electron');
  });
});

describe('layering rule on the real repository', () => {
  it('finds no layering error in main/, electron/ and renderer/', async () => {
    // Only the layering rule runs (the repository's config, its other rules filtered out):
    // `npm run lint` checks everything else, and the other rules would double this test's time.
    const layeringOnly = new ESLint({ cwd: repoRoot, ruleFilter: ({ ruleId }) => ruleId === layeringRule });
    const results = await layeringOnly.lintFiles(['main', 'electron', 'renderer']);
    const linted = results.map((result) =>
      path.relative(repoRoot, result.filePath).split(path.sep).join('/'),
    );
    // The lint really covered each layer (an empty run would pass vacuously).
    expect(linted).toContain('main/core.ts');
    expect(linted).toContain('main/common/api-contract.ts');
    expect(linted).toContain('electron/preload.ts');
    expect(linted).toContain('renderer/src/api/client.ts');
    expect(linted.some((file) => file.endsWith('.vue'))).toBe(true);

    const problems = results.flatMap((result) =>
      result.messages
        .filter((message) => message.ruleId === layeringRule || message.fatal)
        .map((message) => `${path.relative(repoRoot, result.filePath)}:${message.line} ${message.message}`),
    );
    expect(problems).toEqual([]);
  }, 120_000);
});
