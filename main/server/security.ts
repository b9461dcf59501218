import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { tokenHeader, tokenQuery } from '../common/api-contract';
import { mediaScheme } from '../common/library';

/** A fresh random token for one launch of the browser host. */
export function newToken(): string {
  return crypto.randomBytes(24).toString('base64url');
}

/** Constant-time comparison of two tokens. */
export function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export const tokenCookie = 'jigclu_token';

/** The token a request carries: header, then query parameter, then cookie. */
export function requestToken(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers[tokenHeader];
  if (typeof header === 'string' && header) return header;
  const query = url.searchParams.get(tokenQuery);
  if (query) return query;
  const cookies = request.headers.cookie ?? '';
  for (const part of cookies.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === tokenCookie) return rest.join('=');
  }
  return undefined;
}

/** Hosts and origins the browser host accepts for its own port (defends DNS rebinding). */
export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
}

export function allowedOrigins(port: number): Set<string> {
  return new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);
}

/** Why a request is refused, or undefined when it may go on. */
export interface Refusal {
  status: 401 | 403;
  message: string;
}

/** Checks Host, Origin and token of a request or WebSocket upgrade. */
export function checkRequest(request: IncomingMessage, url: URL, port: number, token: string): Refusal | undefined {
  const host = request.headers.host ?? '';
  if (!allowedHosts(port).has(host)) {
    return { status: 403, message: `Host ${JSON.stringify(host)} is not allowed: use http://127.0.0.1:${port}/.` };
  }
  const origin = request.headers.origin;
  if (origin !== undefined && !allowedOrigins(port).has(origin)) {
    return { status: 403, message: `Origin ${origin} is not allowed to use JigClu Studio.` };
  }
  const given = requestToken(request, url);
  if (!given) {
    return { status: 401, message: 'Missing token: open the URL JigClu Studio printed at start-up (it ends with ?token=...).' };
  }
  if (!tokensEqual(given, token)) {
    return { status: 403, message: 'Wrong token: it changes at every launch; open the URL printed by this launch.' };
  }
  return undefined;
}

/**
 * The Content Security Policy of the renderer in browser mode. The same policy is in
 * renderer/index.html as a meta tag, so Electron gets it too.
 */
export const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  `img-src 'self' data: blob: ${mediaScheme}:`,
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
