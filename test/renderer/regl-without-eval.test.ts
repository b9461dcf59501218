import fs from 'node:fs';
import { createRequire } from 'node:module';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  libraryVersions,
  programKey,
  programsFile,
  reglCompileLine,
  reglWithoutEval,
} from '../../renderer/build/regl-without-eval.mjs';

const require = createRequire(import.meta.url);
const reglPath = require.resolve('regl/dist/regl.js');
const reglSource = fs.readFileSync(reglPath, 'utf8');

type Transform = (code: string, id: string) => { code: string } | undefined;
const transform = (options?: { record?: boolean }): Transform =>
  reglWithoutEval(options).transform as unknown as Transform;

/** The table of precompiled programs, evaluated as the build inlines it. */
function programs(): Record<string, (...args: unknown[]) => unknown> {
  const context: { __jigcluReglPrograms?: Record<string, (...args: unknown[]) => unknown> } = {};
  vm.runInNewContext(
    `${fs.readFileSync(programsFile, 'utf8')}\nthis.__jigcluReglPrograms = __jigcluReglPrograms;`,
    context,
  );
  return context.__jigcluReglPrograms!;
}

describe('regl without eval (the map under a CSP with no unsafe-eval)', () => {
  it("rewrites regl's one Function call to the table lookup, and leaves other modules alone", () => {
    expect(reglSource).toContain(reglCompileLine);
    const out = transform()(reglSource, reglPath)!.code;
    expect(out).not.toContain(reglCompileLine);
    expect(out).toContain('var proc = __jigcluReglProgram(linkedNames, src)');
    expect(out).toContain('var __jigcluReglPrograms = {');
    expect(out).not.toMatch(/Function\.apply|new Function/);
    expect(transform()('export const x = 1;', '/x/node_modules/regl-scatterplot/dist/a.js')).toBeUndefined();
    // The recording build keeps Function (it runs on a page without a CSP) and notes each program.
    expect(transform({ record: true })(reglSource, reglPath)!.code).toContain('__jigcluReglRecorded');
  });

  it('refuses a regl it does not know, saying what to do', () => {
    expect(() => transform()('var proc = somethingElse()', reglPath)).toThrow(/regl changed/);
  });

  it('holds a table recorded from the installed regl and regl-scatterplot, keyed by the hash of each source', () => {
    const header = /^\/\/ versions: (.*)$/m.exec(fs.readFileSync(programsFile, 'utf8'))?.[1];
    expect(header).toBe(JSON.stringify(libraryVersions()));
    const table = programs();
    expect(Object.keys(table).length).toBeGreaterThan(5);
    for (const [key, program] of Object.entries(table)) {
      // The function's parameters are regl's linked names and its body is the source regl generated:
      // the key must be the hash of exactly those, or the table was edited by hand.
      const text = program.toString();
      const names = /^function \(([^)]*)\)/.exec(text)![1]!.split(', ').filter(Boolean);
      const src = text.slice(text.indexOf('{\n') + 2, text.lastIndexOf('\n}'));
      expect(programKey(`${names.join(',')}\n${src}`)).toBe(key);
    }
  });

  it('runs the lookup the way regl calls it: a known program is returned, an unknown one throws', () => {
    const out = transform()(reglSource, reglPath)!.code;
    const start = out.indexOf('function programKey');
    const context: Record<string, unknown> = {};
    vm.runInNewContext(`${out.slice(start)}\nthis.lookup = __jigcluReglProgram;`, context);
    const lookup = context.lookup as (names: string[], src: string) => unknown;
    const [key, program] = Object.entries(programs())[0]!;
    const text = program.toString();
    const names = /^function \(([^)]*)\)/.exec(text)![1]!.split(', ').filter(Boolean);
    const src = text.slice(text.indexOf('{\n') + 2, text.lastIndexOf('\n}'));
    expect(programKey(`${names.join(',')}\n${src}`)).toBe(key);
    expect(typeof lookup(names, src)).toBe('function');
    expect(() => lookup(names, `${src} `)).toThrow(/not compiled ahead of time/);
  });
});
