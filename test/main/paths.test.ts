import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appSlug, databasePath, defaultDataDir, productName } from '../../main/paths';

// Paths built from the temp folder so no absolute path is written into the test; nothing is
// created on disk.
const home = path.join(os.tmpdir(), 'jigclu-fake-home');
const xdg = path.join(os.tmpdir(), 'jigclu-fake-xdg');
const appData = path.join(os.tmpdir(), 'jigclu-fake-appdata');

describe('defaultDataDir', () => {
  it('names the folders as documented', () => {
    expect(appSlug).toBe('jigclu-studio');
    expect(productName).toBe('JigClu Studio');
  });

  it('uses $XDG_DATA_HOME/jigclu-studio on Linux when it is set', () => {
    expect(defaultDataDir('linux', { XDG_DATA_HOME: xdg }, home)).toBe(path.join(xdg, 'jigclu-studio'));
  });

  it('uses ~/.local/share/jigclu-studio on Linux when XDG_DATA_HOME is unset or empty', () => {
    const expected = path.join(home, '.local', 'share', 'jigclu-studio');
    expect(defaultDataDir('linux', {}, home)).toBe(expected);
    expect(defaultDataDir('linux', { XDG_DATA_HOME: '' }, home)).toBe(expected);
  });

  it('ignores a relative XDG_DATA_HOME, as the XDG spec says', () => {
    expect(defaultDataDir('linux', { XDG_DATA_HOME: 'relative/data' }, home)).toBe(
      path.join(home, '.local', 'share', 'jigclu-studio'),
    );
  });

  it('treats other Unix platforms like Linux', () => {
    expect(defaultDataDir('freebsd', { XDG_DATA_HOME: xdg }, home)).toBe(path.join(xdg, 'jigclu-studio'));
  });

  it('uses ~/Library/Application Support/JigClu Studio on macOS, ignoring XDG', () => {
    expect(defaultDataDir('darwin', { XDG_DATA_HOME: xdg }, home)).toBe(
      path.join(home, 'Library', 'Application Support', 'JigClu Studio'),
    );
  });

  it('uses %APPDATA%\\JigClu Studio on Windows, ignoring XDG', () => {
    expect(defaultDataDir('win32', { APPDATA: appData, XDG_DATA_HOME: xdg }, home)).toBe(
      path.join(appData, 'JigClu Studio'),
    );
  });

  it('falls back to ~/AppData/Roaming on Windows when APPDATA is unset', () => {
    expect(defaultDataDir('win32', {}, home)).toBe(path.join(home, 'AppData', 'Roaming', 'JigClu Studio'));
  });

  it('lets JIGCLU_DATA_DIR override every platform', () => {
    const override = path.join(os.tmpdir(), 'jigclu-override');
    for (const platform of ['linux', 'darwin', 'win32'] as const) {
      expect(
        defaultDataDir(platform, { JIGCLU_DATA_DIR: override, XDG_DATA_HOME: xdg, APPDATA: appData }, home),
        platform,
      ).toBe(override);
    }
  });

  it('resolves a relative JIGCLU_DATA_DIR against the working directory', () => {
    expect(defaultDataDir('linux', { JIGCLU_DATA_DIR: 'my-data' }, home)).toBe(path.resolve('my-data'));
    expect(path.isAbsolute(defaultDataDir('linux', { JIGCLU_DATA_DIR: 'my-data' }, home))).toBe(true);
  });

  it('ignores an empty JIGCLU_DATA_DIR', () => {
    expect(defaultDataDir('linux', { JIGCLU_DATA_DIR: '', XDG_DATA_HOME: xdg }, home)).toBe(
      path.join(xdg, 'jigclu-studio'),
    );
  });

  it('defaults to the running platform, environment and home', () => {
    const saved = process.env.JIGCLU_DATA_DIR;
    const override = path.join(os.tmpdir(), 'jigclu-from-process-env');
    process.env.JIGCLU_DATA_DIR = override;
    try {
      expect(defaultDataDir()).toBe(override);
    } finally {
      if (saved === undefined) delete process.env.JIGCLU_DATA_DIR;
      else process.env.JIGCLU_DATA_DIR = saved;
    }
  });
});

describe('databasePath', () => {
  it('puts jigclu.sqlite inside the data folder', () => {
    expect(databasePath(home)).toBe(path.join(home, 'jigclu.sqlite'));
  });
});
