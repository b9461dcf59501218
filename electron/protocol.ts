import fs from 'node:fs/promises';
import path from 'node:path';
import { net, protocol } from 'electron';
import { pathToFileURL } from 'node:url';
import { mediaScheme, mediaVersionPattern, parseMediaPath } from '../main/common/library';
import { contentSecurityPolicy } from '../main/server/security';
import { staticFile } from '../main/server/static-path';
import type { MediaSource } from '../main/services/library';

/** Must run before `app.ready`: makes app:// and jigclu-media:// standard, secure schemes. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } },
    // Thumbnails and images of the library: jigclu-media://thumbs/<id>, jigclu-media://images/<id>.
    { scheme: mediaScheme, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
}

/**
 * Serves the built renderer from app://renderer/ and, when given, the WebGPU compute window's
 * page from app://gpu-host/ (electron/gpu-window.ts), refusing any path outside each folder,
 * with the same strict CSP as browser mode. Every failure is an answer, never an exception.
 */
export function serveRenderer(rendererDir: string, gpuHostDir?: string): void {
  const roots = new Map<string, string>([['renderer', path.resolve(rendererDir)]]);
  if (gpuHostDir) roots.set('gpu-host', path.resolve(gpuHostDir));
  protocol.handle('app', async (request) => {
    try {
      return await rendererResponse(roots, request);
    } catch {
      return new Response('Cannot serve this file', { status: 500 });
    }
  });
}

async function rendererResponse(roots: Map<string, string>, request: Request): Promise<Response> {
  const url = new URL(request.url);
  const root = roots.get(url.host);
  if (!root) return new Response('Not found', { status: 404 });
  const target = staticFile(root, url.pathname);
  if ('status' in target) {
    return new Response(target.status === 400 ? 'Bad request' : 'Forbidden', { status: target.status });
  }
  const file = target.file;
  try {
    await fs.access(file);
  } catch {
    return new Response('Not found', { status: 404 });
  }
  const response = await net.fetch(pathToFileURL(file).toString());
  const headers = new Headers(response.headers);
  headers.set('content-security-policy', contentSecurityPolicy);
  headers.set('x-content-type-options', 'nosniff');
  return new Response(response.body, { status: response.status, headers });
}

/**
 * Serves the library's thumbnails and images at jigclu-media://thumbs/<id> and
 * jigclu-media://images/<id>. The id is looked up in the database (images of registered
 * folders only, checked to resolve inside their folder); no path is taken from the URL.
 */
export function serveMedia(media: MediaSource): void {
  protocol.handle(mediaScheme, async (request) => {
    try {
      return await mediaResponse(media, request);
    } catch {
      return new Response('Cannot serve this image', { status: 500 });
    }
  });
}

async function mediaResponse(media: MediaSource, request: Request): Promise<Response> {
  const url = new URL(request.url);
  const target = parseMediaPath(`/${url.host}${url.pathname}`);
  const version = url.searchParams.get('v') ?? undefined;
  if (!target || request.method !== 'GET') return new Response('Not found', { status: 404 });
  if (version !== undefined && !mediaVersionPattern.test(version)) {
    return new Response('Bad version', { status: 400 });
  }
  const result = await media.open(target.kind, target.id, {
    ifNoneMatch: request.headers.get('if-none-match') ?? undefined,
    version,
  });
  if (result.status === 304) {
    return new Response(null, { status: 304, headers: { etag: result.etag, 'cache-control': result.cacheControl } });
  }
  if (result.status !== 200) {
    return new Response(result.message, { status: result.status, headers: { 'content-type': 'text/plain; charset=utf-8' } });
  }
  return new Response(new Uint8Array(result.body), {
    status: 200,
    headers: {
      'content-type': result.type,
      etag: result.etag,
      'cache-control': result.cacheControl,
      'x-content-type-options': 'nosniff',
    },
  });
}
