import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/library';

/**
 * What the README says about Node versions is what the dependency tree declares: the project
 * runs on Node 20.19 or newer, and the only packages of package-lock.json that declare a newer
 * Node (npm install prints an EBADENGINE warning for each on Node 20) are Electron 45 and the
 * tools that download and rebuild it, each named in the README.
 */

const oldestNode = '20.19.0';
/** The packages that declare a Node newer than 20.19, as the README lists them. */
const electronFamily = ['@electron-internal/extract-zip', '@electron/get', '@electron/rebuild', 'electron', 'node-abi'];

interface LockPackage {
  version?: string;
  engines?: { node?: string } | string[];
}

describe('Node versions', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { engines: { node: string } };
  const lock = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

  it('package.json asks for Node 20.19 or newer, as the README says', () => {
    expect(pkg.engines.node).toBe('>=20.19');
    expect(semver.minVersion(pkg.engines.node)?.version).toBe(oldestNode);
    expect(readme).toContain('Node 20.19 or newer');
  });

  it('only Electron and its download and rebuild tools declare a newer Node, and the README names each', () => {
    const newer = new Set<string>();
    for (const [where, entry] of Object.entries(lock.packages)) {
      const range = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
      if (!where || !range) continue;
      if (!semver.satisfies(oldestNode, range)) newer.add(where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length));
    }
    expect([...newer].sort()).toEqual(electronFamily);
    for (const name of electronFamily) expect(readme, name).toContain(`\`${name}\``);
    expect(readme).toContain(`${electronFamily.length} \`EBADENGINE\` warnings`);
  });
});
