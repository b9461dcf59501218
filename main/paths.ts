import os from 'node:os';
import path from 'node:path';

/** Folder name of the data folder on Linux (XDG style) and product name elsewhere. */
export const appSlug = 'jigclu-studio';
export const productName = 'JigClu Studio';

/**
 * The platform's default data folder, shared by the desktop app, the CLI and browser mode so
 * a run trained from the CLI shows up in the app:
 * Linux `$XDG_DATA_HOME/jigclu-studio` (default ~/.local/share/jigclu-studio),
 * macOS `~/Library/Application Support/JigClu Studio`, Windows `%APPDATA%\JigClu Studio`.
 * `JIGCLU_DATA_DIR` overrides it.
 */
export function defaultDataDir(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  home: string = os.homedir(),
): string {
  if (env.JIGCLU_DATA_DIR) return path.resolve(env.JIGCLU_DATA_DIR);
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', productName);
  if (platform === 'win32') {
    return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), productName);
  }
  const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(home, '.local', 'share');
  return path.join(xdg, appSlug);
}

/** The database file inside a data folder. */
export function databasePath(dataDir: string): string {
  return path.join(dataDir, 'jigclu.sqlite');
}
