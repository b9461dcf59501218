import path from 'node:path';

/**
 * The file of a static folder (the built renderer) that a URL path names, or the status to
 * answer instead: a malformed escape or a control character (NUL, which the file system would
 * answer with an exception) is 400, a path that leaves `root` is 403. Never throws. Browser
 * mode's host and the desktop app's app:// protocol both serve files through it.
 */
export function staticFile(root: string, pathname: string): { file: string } | { status: 400 | 403 } {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return { status: 400 };
  }
  for (let i = 0; i < decoded.length; i++) {
    const code = decoded.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return { status: 400 };
  }
  const resolvedRoot = path.resolve(root);
  const relative = pathname === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  const file = path.resolve(resolvedRoot, relative);
  if (file !== resolvedRoot && !file.startsWith(resolvedRoot + path.sep)) return { status: 403 };
  return { file };
}
