// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import pluginVue from 'eslint-plugin-vue';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((name) => `node:${name}`)];

/** An import that walks into a folder and back out (`main/common/../store`) to dodge a rule. */
const noDetour = {
  regex: '(^|/)[^./][^/]*/\\.\\.(/|$)',
  message: 'Write imports without detours through `..` inside a path: the layering rule reads them as written.',
};

/**
 * The layering rule (compare VS Code's `code-layering`): imports go one direction only.
 *   main/common  -> nothing but zod (no Node, no DOM, no other folder)
 *   main         -> never electron, never renderer
 *   renderer     -> only main/common of main/, never electron or Node
 *   gpu-host, main/gpu-host -> main/ code, never electron or Node (a sandboxed page bundles them)
 *   electron     -> anything
 * Violations are errors, so `npm run lint` (and `npm test`) fail.
 */
const layering = {
  common: {
    paths: ['electron', ...nodeBuiltins].map((name) => ({
      name,
      message: 'main/common is shared with the renderer: no Node or Electron APIs here.',
    })),
    patterns: [
      {
        group: ['../*', '!../common', '!../common/*'],
        message: 'main/common imports nothing outside main/common.',
      },
      { regex: '^(?!zod(/|$)|\\.{1,2}/)', message: 'main/common holds no runtime dependencies but zod.' },
      { group: ['node:*'], message: 'main/common is shared with the renderer: no Node APIs here.' },
      noDetour,
    ],
  },
  main: {
    paths: [{ name: 'electron', message: 'main/ never imports electron: put Electron code in electron/.' }],
    patterns: [
      { group: ['electron/*'], message: 'main/ never imports electron: put Electron code in electron/.' },
      { group: ['**/electron/**', '**/renderer/**'], message: 'main/ does not import electron/ or renderer/ code.' },
      noDetour,
    ],
  },
  /** The compute window's page (gpu-host/) and the host code it bundles (main/gpu-host): a sandboxed page too. */
  gpuHost: {
    paths: ['electron', ...nodeBuiltins].map((name) => ({
      name,
      message: 'The WebGPU compute window runs a sandboxed page: no Electron or Node APIs here.',
    })),
    patterns: [
      { group: ['node:*', 'better-sqlite3', 'ws', 'sharp', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu'], message: 'The WebGPU compute window runs a sandboxed page: no Node APIs or native modules.' },
      { group: ['**/electron/**', '**/renderer/**'], message: 'The compute window imports only main/ code (its build refuses Node modules).' },
      noDetour,
    ],
  },
  renderer: {
    paths: ['electron', ...nodeBuiltins].map((name) => ({
      name,
      message: 'The renderer runs in a sandboxed page: no Electron or Node APIs; go through the API client.',
    })),
    patterns: [
      {
        group: ['**/main/**', '!**/main/common', '!**/main/common/**'],
        message: 'The renderer imports only main/common of main/ (the contract and domain types).',
      },
      { group: ['**/electron/**'], message: 'The renderer never imports electron/ code.' },
      {
        group: ['node:*', 'better-sqlite3', 'ws', 'sharp', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
        message: 'The renderer runs in a sandboxed page: no Node APIs or native modules.',
      },
      noDetour,
    ],
  },
};

/**
 * Inside main/: what each folder may import of its neighbours (each folder's README.md says the
 * same in words). main/data is the image pipeline: it imports main/common only. main/engine
 * never reaches up into services, store, server or cli. Its sub-folders are layered, lowest
 * first; a folder imports only those before it in this list (and itself):
 *   backend -> nn -> weights, analysis -> jigclu, classify -> compute
 */
const engineLayers = {
  backend: [],
  nn: ['backend'],
  weights: ['backend', 'nn'],
  analysis: ['backend', 'nn'],
  jigclu: ['backend', 'nn', 'weights', 'analysis'],
  classify: ['backend', 'nn', 'weights', 'analysis'],
  compute: ['backend', 'nn', 'weights', 'analysis', 'jigclu', 'classify'],
};
const upward = {
  regex: '^(\\.\\./)+(services|store|server|cli)(/|$)',
  message: 'main/engine and main/data do not import services, store, server or cli: those call them, not the other way.',
};
const mainFolders = {
  jobs: [
    {
      regex: '^(\\.\\./)+(services|store|server|cli)(/|$)',
      message:
        'main/jobs (the trainer process, the compute-job client, the trainer slot) does not import services, store, server or cli: createServices hands the client and the slot to the services, not the other way.',
    },
  ],
  data: [
    upward,
    {
      regex: '^(\\.\\./)+(engine|jobs|gpu-host|bench)(/|$)',
      message: 'main/data imports only main/common (see main/data/README.md): the engine and jobs use data, not the other way.',
    },
  ],
  ...Object.fromEntries(
    Object.entries(engineLayers).map(([folder, allowed]) => {
      const refused = Object.keys(engineLayers).filter((other) => other !== folder && !allowed.includes(other));
      const patterns = [upward];
      if (refused.length > 0) {
        patterns.push({
          regex: `^(\\.\\./)+(engine/)?(${refused.join('|')})(/|$)`,
          message: `main/engine/${folder} may import only ${allowed.length ? allowed.map((name) => `engine/${name}`).join(', ') : 'no other engine folder'} (see main/engine/${folder}/README.md).`,
        });
      }
      return [`engine/${folder}`, patterns];
    }),
  ),
};

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'test/output/**', 'test-results/**', 'renderer/build/*.generated.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...pluginVue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      // Formatting belongs to Prettier.
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/html-indent': 'off',
      'vue/html-closing-bracket-newline': 'off',
      'vue/multiline-html-element-content-newline': 'off',
    },
  },
  {
    files: ['renderer/**/*.{ts,vue}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: { 'no-restricted-imports': ['error', layering.renderer] },
  },
  {
    files: ['main/**/*.ts'],
    ignores: ['main/common/**', 'main/gpu-host/**'],
    rules: { 'no-restricted-imports': ['error', layering.main] },
  },
  {
    files: ['main/gpu-host/**/*.ts', 'gpu-host/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', layering.gpuHost] },
  },
  {
    files: ['gpu-host/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['main/common/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', layering.common] },
  },
  // Later entries replace the rule's options for their files, so each repeats main's patterns.
  ...Object.entries(mainFolders).map(([folder, patterns]) => ({
    files: [`main/${folder}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { ...layering.main, patterns: [...layering.main.patterns, ...patterns] }] },
  })),
  {
    // What every service gets imports no area, so that no service finds a neighbour through it.
    files: ['main/services/context.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          ...layering.main,
          patterns: [
            ...layering.main.patterns,
            {
              regex: '^\\./(?!(dispatch|storage-guard|tasks)$)',
              message: 'main/services/context.ts imports no area service: createServices hands each service its neighbours as constructor arguments.',
            },
          ],
        },
      ],
    },
  },
);
