import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { httpCallPrefix, httpEventsPath, tokenQuery } from '../common/api-contract';
import { mediaVersionPattern, parseMediaPath } from '../common/library';
import { err, type Result } from '../common/result';
import { appLog } from '../log';
import { dispatch, httpStatusFor, type Handlers } from '../services/dispatch';
import type { EventHub } from '../services/event-hub';
import type { MediaSource } from '../services/library';
import { BodyError, readBody, type BodyLimits } from './body';
import { checkRequest, contentSecurityPolicy, newToken, tokenCookieName } from './security';
import { staticFile } from './static-path';

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
  /** Largest call body in bytes (default 1 MiB); larger ones are answered 413. */
  maxBodyBytes?: number;
  /** A call body must arrive within this time (default 10 s); else 408. */
  bodyTimeoutMs?: number;
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
/** Calls carry small JSON arguments; the largest (a bulk labelSet of 100,000 ids) fits easily. */
const defaultMaxBodyBytes = 1024 * 1024;
const defaultBodyTimeoutMs = 10_000;
/** The event stream is one-way (core to page): anything the page sends is tiny or an attack. */
const maxSocketPayloadBytes = 4 * 1024;

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

/**
 * Answers a request, once: a response already sent (or a socket already gone) is left alone,
 * so no error path can throw "headers already sent" out of a handler.
 */
function send(response: ServerResponse, status: number, body: string | Buffer, type = 'application/json', extra: Record<string, string> = {}): void {
  if (response.headersSent || response.writableEnded || response.destroyed) return;
  response.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': contentSecurityPolicy,
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    ...extra,
  });
  response.end(body);
}

function sendResult(response: ServerResponse, result: Result<unknown>): void {
  let body: string;
  try {
    body = JSON.stringify(result);
  } catch (error) {
    appLog('error', 'server', 'a result could not be serialised', error);
    body = JSON.stringify(err('INTERNAL', 'The answer could not be encoded (see the log).'));
    send(response, 500, body);
    return;
  }
  send(response, httpStatusFor(result), body);
}

/** Answers a body that could not be read, closing the connection (its unread bytes are unusable). */
function sendBodyError(response: ServerResponse, error: BodyError): void {
  send(response, error.status, JSON.stringify(err('INVALID_ARGUMENT', error.message)), 'application/json', { connection: 'close' });
  response.once('finish', () => response.req.socket.destroySoon());
}

async function handleCall(handlers: Handlers, name: string, request: IncomingMessage, response: ServerResponse, limits: BodyLimits): Promise<void> {
  if (request.method !== 'POST') {
    send(response, 405, JSON.stringify(err('INVALID_ARGUMENT', 'Calls are POST requests with a JSON body { "args": ... }.')));
    return;
  }
  if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
    // Also stops cross-site "simple" form posts, which cannot set this content type.
    sendResult(response, err('INVALID_ARGUMENT', 'Calls need Content-Type: application/json.'));
    return;
  }
  let text: string;
  try {
    text = await readBody(request, limits);
  } catch (error) {
    sendBodyError(response, error instanceof BodyError ? error : new BodyError(400, 'The request body could not be read.'));
    return;
  }
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch (error) {
    sendResult(response, err('INVALID_ARGUMENT', `The request body is not valid JSON: ${(error as Error).message}`));
    return;
  }
  const args = typeof body === 'object' && body !== null && 'args' in body ? (body as { args: unknown }).args : undefined;
  sendResult(response, await dispatch(handlers, safeDecode(name) ?? name, args));
}

function serveStatic(staticDir: string, url: URL, response: ServerResponse, setCookie?: string): void {
  const target = staticFile(staticDir, url.pathname);
  if ('status' in target) {
    send(response, target.status, target.status === 400 ? 'Bad request: the path has a malformed escape or a control character.' : 'Forbidden', 'text/plain');
    return;
  }
  const file = target.file;
  fs.readFile(file, (error, data) => {
    if (error) {
      send(response, 404, 'Not found', 'text/plain');
      return;
    }
    send(response, 200, data, contentTypes[path.extname(file)] ?? 'application/octet-stream', setCookie ? { 'set-cookie': setCookie } : {});
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
 * No request can stop it: every handler is guarded, a bad request is answered 4xx or its
 * connection closed, and errors of sockets are handled.
 */
export async function startBrowserHost(options: BrowserHostOptions): Promise<BrowserHost> {
  const token = options.token ?? newToken();
  const limits: BodyLimits = { maxBytes: options.maxBodyBytes ?? defaultMaxBodyBytes, timeoutMs: options.bodyTimeoutMs ?? defaultBodyTimeoutMs };
  let port = 0;
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxSocketPayloadBytes });
  wss.on('error', (error) => appLog('warn', 'server', `event socket server: ${error.message}`));

  const route = (request: IncomingMessage, response: ServerResponse): void => {
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
      handleCall(options.handlers, url.pathname.slice(httpCallPrefix.length), request, response, limits).catch((error: unknown) => internalError(response, error));
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, 'Method not allowed', 'text/plain');
      return;
    }
    if (/^\/(thumbs|images)(\/|$)/.test(url.pathname)) {
      serveMedia(options.media, url, request, response).catch((error: unknown) => internalError(response, error));
      return;
    }
    if (!options.staticDir) {
      send(response, 404, 'The renderer is not built: run `npm run build`.', 'text/plain');
      return;
    }
    // The page's own assets cannot carry a header, so the token from the URL becomes a
    // same-site, HTTP-only cookie for them, named for this port.
    const cookie = url.searchParams.has(tokenQuery)
      ? `${tokenCookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`
      : undefined;
    serveStatic(options.staticDir, url, response, cookie);
  };

  const server = http.createServer((request, response) => {
    request.on('error', () => undefined);
    response.on('error', () => undefined);
    try {
      route(request, response);
    } catch (error) {
      internalError(response, error);
    }
  });
  // Slow or stalled clients are cut off instead of holding sockets open.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    socket.on('error', () => undefined);
    if (socket.writable && error.code !== 'ECONNRESET') {
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else {
      socket.destroy();
    }
  });

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    try {
      const url = parseRequestUrl(request.url, port);
      const refusal = !url
        ? { status: 403 as const, message: 'Malformed socket URL.' }
        : url.pathname === httpEventsPath
          ? checkRequest(request, url, port, token, true)
          : { status: 403 as const, message: 'Unknown socket path.' };
      if (refusal) {
        socket.end(`HTTP/1.1 ${refusal.status} ${refusal.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        sockets.add(ws);
        const unsubscribe = options.hub.subscribe((name, payload) => {
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event: name, payload }));
        });
        // A malformed frame (reserved opcode, unmasked, invalid UTF-8, over maxPayload) is an
        // 'error' on the socket: without this listener it would be thrown out of the process.
        ws.on('error', () => ws.terminate());
        ws.on('close', () => {
          unsubscribe();
          sockets.delete(ws);
        });
        // The event stream is one-way: anything the page sends is ignored.
        ws.on('message', () => undefined);
      });
    } catch (error) {
      appLog('warn', 'server', `refused a socket upgrade: ${(error as Error).message}`);
      socket.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, bindAddress, () => resolve());
  });
  // After start-up, a server error is logged; it never ends the process.
  server.on('error', (error) => appLog('error', 'server', 'browser host', error));
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

/** The last guard: an unexpected exception is logged and answered 500 without its details. */
function internalError(response: ServerResponse, error: unknown): void {
  appLog('error', 'server', 'a request failed unexpectedly', error);
  send(response, 500, JSON.stringify(err('INTERNAL', 'The request failed unexpectedly; the details are in the log (Help > Open Logs Folder).')));
}
