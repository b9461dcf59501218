/**
 * regl (which regl-scatterplot draws with) builds each draw command as JavaScript source and compiles it
 * with `Function.apply(null, names.concat(source))`: that needs 'unsafe-eval', which the app's CSP
 * (script-src 'self') refuses. This Vite plugin rewrites that one line of regl so the command comes from a
 * table of the same functions compiled ahead of time (renderer/build/regl-programs.generated.js, written by
 * `npm run regl:record` from the programs regl generates when the map is exercised in Chromium). Each
 * table entry is keyed by a hash of regl's linked names and source, so a program is used only for the exact
 * source it was recorded from; a source missing from the table throws, and the map falls back to Canvas 2D.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';

/** The line of regl 2.1.x this plugin replaces. */
export const reglCompileLine = 'var proc = Function.apply(null, linkedNames.concat(src))';

/** The table of precompiled programs. */
export const programsFile = new URL('./regl-programs.generated.js', import.meta.url);

/**
 * cyrb53: a 53-bit string hash, as 14 hex digits. Stringified into regl at build time, so it must stay
 * self-contained.
 * @param {string} text
 * @returns {string}
 */
export function programKey(text) {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, '0');
}

/** The versions the table is recorded from: a change of either means recording again. */
export function libraryVersions() {
  const require = createRequire(import.meta.url);
  return {
    regl: require('regl/package.json').version,
    'regl-scatterplot': require('regl-scatterplot/package.json').version,
  };
}

const lookupRuntime = `
function __jigcluReglProgram(names, src) {
  var key = programKey(names.join(',') + '\\n' + src);
  var program = __jigcluReglPrograms[key];
  if (!program) {
    throw new Error('regl program ' + key + ' was not compiled ahead of time (npm run regl:record); the map uses Canvas 2D');
  }
  return program;
}
`;

const recordRuntime = `
function __jigcluReglProgram(names, src) {
  var key = programKey(names.join(',') + '\\n' + src);
  var recorded = (globalThis.__jigcluReglRecorded = globalThis.__jigcluReglRecorded || {});
  recorded[key] = [names.slice(), src];
  return Function.apply(null, names.concat(src));
}
`;

/**
 * The Vite plugin. `record: true` builds a regl that still uses `Function` but notes every program it
 * compiles in `globalThis.__jigcluReglRecorded` (for the recorder, on a page without a CSP).
 * @param {{ record?: boolean }} [options]
 */
export function reglWithoutEval(options = {}) {
  return {
    name: 'jigclu-regl-without-eval',
    enforce: 'pre',
    /** @param {string} code @param {string} id */
    transform(code, id) {
      if (!/[\\/]node_modules[\\/]regl[\\/]dist[\\/]regl(\.unchecked)?\.js$/.test(id.split('?')[0]))
        return undefined;
      if (!code.includes(reglCompileLine)) {
        throw new Error(
          `regl changed: ${id} no longer has "${reglCompileLine}"; update renderer/build/regl-without-eval.mjs`,
        );
      }
      let table = '';
      if (!options.record) {
        const text = fs.readFileSync(programsFile, 'utf8');
        const recorded = /^\/\/ versions: (.*)$/m.exec(text)?.[1];
        const installed = JSON.stringify(libraryVersions());
        if (recorded !== installed) {
          throw new Error(
            `renderer/build/regl-programs.generated.js was recorded for ${recorded}, but ${installed} is installed: run npm run regl:record`,
          );
        }
        table = text;
      }
      const runtime = `${programKey.toString()}\n${options.record ? recordRuntime : lookupRuntime}\n${table}`;
      return {
        code: `${code.replace(reglCompileLine, 'var proc = __jigcluReglProgram(linkedNames, src)')}\n${runtime}`,
        map: null,
      };
    },
  };
}
