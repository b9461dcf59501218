import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { httpCallPrefix, httpEventsPath, tokenQuery } from '../common/api-contract';
import { mediaVersionPattern, parseMediaPath } from '../common/library';
import { err, type Result } from '../common/result';
import { dispatch, httpStatusFor, type Handlers } from '../services/dispatch';
import type { EventHub } from '../services/event-hub';
import type { MediaSource } from '../services/library';
import { checkRequest, contentSecurityPolicy, newToken, tokenCookie } from './security';

export interface BrowserHostOptions {
  handlers: Handlers;
  hub: EventHub;
  /** The built renderer (out/renderer); when absent only the API is served. */
  staticDir?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Fixed token (tests); a random one per launch otherwise. */
  token?: string;
  /** Thumbnails and images of the library, served at /thumbs/<id> and /images/<id>. */
  media?: MediaSource;
}

export interface BrowserHost {
  /** The URL to open, with the token. */
  url: string;
  port: number;
  token: string;
  /** The address the socket is bound to (always 127.0.0.1). */
  address: string;
  close(): Promise<void>;
}

const bindAddress = '127.0.0.1';
const maxBodyBytes = 1024 * 1024;

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** decodeURIComponent that returns undefined for malformed escapes instead of throwing. */
function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** Parses a request target; a malformed one (e.g. `//[`) gives undefined instead of throwing. */
function parseRequestUrl(raw: string | undefined, port: number): URL | undefined {
  try {
    return new URL(raw ?? '/', `http://${bindAddress}:${port}`);
  } catch {
    return undefined;
  }
}

function send(response: ServerResponse, status: number, body: string, type = 'application/json'): void {
  response.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': contentSecurityPolicy,
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  });
  response.end(body);
}

function sendResult(response: ServerResponse, result: Result<unknown>): void {
  send(response, httpStatusFor(result), JSON.stringify(result));
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        reject(new Error(`request body over ${maxBodyBytes} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

async function handleCall(handlers: Handlers, name: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'POST') {
    send(response, 405, JSON.stringify(err('INVALID_ARGUMENT', 'Calls are POST requests with a JSON body { "args": ... }.')));
    return;
  }
  if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
    // Also stops cross-site "simple" form posts, which cannot set this content type.
    sendResult(response, err('INVALID_ARGUMENT', 'Calls need Content-Type: application/json.'));
    return;
  }
  let body: unknown;
  try {
    const text = await readBody(request);
    body = text ? JSON.parse(text) : {};
  } catch (error) {
    sendResult(response, err('INVALID_ARGUMENT', `The request body is not valid JSON: ${(error as Error).message}`));
    return;
  }
  const args = typeof body === 'object' && body !== null && 'args' in body ? (body as { args: unknown }).args : undefined;
  sendResult(response, await dispatch(handlers, safeDecode(name) ?? name, args));
}

function serveStatic(staticDir: string, url: URL, response: ServerResponse, setCookie?: string): void {
  const root = path.resolve(staticDir);
  const decoded = safeDecode(url.pathname);
  if (decoded === undefined) {
    send(response, 400, 'Bad request', 'text/plain');
    return;
  }
  const relative = url.pathname === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  const file = path.resolve(root, relative);
  if (file !== root && !file.startsWith(root + path.sep)) {
    send(response, 403, 'Forbidden', 'text/plain');
    return;
  }
  fs.readFile(file, (error, data) => {
    if (error) {
      send(response, 404, 'Not found', 'text/plain');
      return;
    }
    if (setCookie) response.setHeader('set-cookie', setCookie);
    send(response, 200, data as unknown as string, contentTypes[path.extname(file)] ?? 'application/octet-stream');
  });
}

/**
 * GET /thumbs/<id> and /images/<id>: the id is looked up in the library, never a path from the
 * request; anything else under those prefixes is refused.
 */
async function serveMedia(media: MediaSource | undefined, url: URL, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const target = parseMediaPath(url.pathname);
  if (!target || !media) {
    send(response, 404, 'Not found: media paths are /thumbs/<image id> and /images/<image id>.', 'text/plain');
    return;
  }
  const ifNoneMatch = request.headers['if-none-match'];
  const version = url.searchParams.get('v') ?? undefined;
  if (version !== undefined && !mediaVersionPattern.test(version)) {
    send(response, 400, 'Bad version: v is a hexadecimal content hash prefix.', 'text/plain');
    return;
  }
  const result = await media.open(target.kind, target.id, { ifNoneMatch: typeof ifNoneMatch === 'string' ? ifNoneMatch : undefined, version });
  if (result.status === 200 || result.status === 304) {
    response.writeHead(result.status, {
      ...(result.status === 200 ? { 'content-type': result.type, 'content-length': result.body.length } : {}),
      etag: result.etag,
      'cache-control': result.cacheControl,
      'x-content-type-options': 'nosniff',
      'cross-origin-resource-policy': 'same-origin',
      'content-security-policy': "default-src 'none'",
    });
    response.end(result.status === 200 && request.method !== 'HEAD' ? result.body : undefined);
    return;
  }
  send(response, result.status, result.message, 'text/plain; charset=utf-8');
}

/**
 * The browser-mode host: the same contract as the Electron IPC router, over HTTP (calls) and
 * a WebSocket (events). Binds 127.0.0.1 only; every request and socket must carry the
 * per-launch token and, when it has one, our own Origin; the Host header must be ours.
 */
export async function startBrowserHost(options: BrowserHostOptions): Promise<BrowserHost> {
  const token = options.token ?? newToken();
  let port = 0;
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

  const server = http.createServer((request, response) => {
    const url = parseRequestUrl(request.url, port);
    if (!url) {
      send(response, 400, JSON.stringify(err('INVALID_ARGUMENT', 'Malformed request URL.')));
      return;
    }
    const refusal = checkRequest(request, url, port, token);
    if (refusal) {
      send(response, refusal.status, JSON.stringify(err('FORBIDDEN', refusal.message)));
      return;
    }
    if (url.pathname.startsWith(httpCallPrefix)) {
      handleCall(options.handlers, url.pathname.slice(httpCallPrefix.length), request, response).catch((error: unknown) =>
        sendResult(response, err('INTERNAL', (error as Error).message)),
      );
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, 'Method not allowed', 'text/plain');
      return;
    }
    if (/^\/(thumbs|images)(\/|$)/.test(url.pathname)) {
      serveMedia(options.media, url, request, response).catch((error: unknown) =>
        send(response, 500, `Cannot serve this image: ${(error as Error).message}`, 'text/plain'),
      );
      return;
    }
    if (!options.staticDir) {
      send(response, 404, 'The renderer is not built: run `npm run build`.', 'text/plain');
      return;
    }
    // The page's own assets cannot carry a header, so the token from the URL becomes a
    // same-site, HTTP-only cookie for them.
    const cookie = url.searchParams.has(tokenQuery)
      ? `${tokenCookie}=${token}; HttpOnly; SameSite=Strict; Path=/`
      : undefined;
    serveStatic(options.staticDir, url, response, cookie);
  });

  server.on('upgrade', (request, socket, head) => {
    const url = parseRequestUrl(request.url, port);
    const refusal = !url
      ? { status: 403 as const, message: 'Malformed socket URL.' }
      : url.pathname === httpEventsPath ? checkRequest(request, url, port, token) : { status: 403 as const, message: 'Unknown socket path.' };
    if (refusal) {
      socket.write(`HTTP/1.1 ${refusal.status} ${refusal.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.add(ws);
      const unsubscribe = options.hub.subscribe((name, payload) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event: name, payload }));
      });
      ws.on('close', () => {
        unsubscribe();
        sockets.delete(ws);
      });
      // The event stream is one-way: anything the page sends is ignored.
      ws.on('message', () => undefined);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, bindAddress, () => resolve());
  });
  const address = server.address() as AddressInfo;
  port = address.port;

  return {
    url: `http://${bindAddress}:${port}/?${tokenQuery}=${token}`,
    port,
    token,
    address: address.address,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets) ws.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
