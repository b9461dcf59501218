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

/**
 * The name of the token cookie of the host on `port`. Browsers keep one cookie jar per host
 * name, not per port: one name per port keeps two browser-mode instances from overwriting each
 * other's cookie.
 */
export function tokenCookieName(port: number): string {
  return `jigclu_token_${port}`;
}

/**
 * May this request authenticate with the cookie alone? Only reads of the page's own assets and
 * of media (an <img> cannot carry a header). Calls and the event socket need the header or the
 * query token, so a page on another local port, which the browser sends the cookie with, can
 * neither call the API nor listen to events.
 */
export function cookieAllowed(method: string | undefined, pathname: string, isUpgrade = false): boolean {
  if (isUpgrade || (method !== 'GET' && method !== 'HEAD')) return false;
  return !pathname.startsWith('/api/');
}

/** The token a request carries: header, then query parameter, then (where allowed) the cookie. */
export function requestToken(request: IncomingMessage, url: URL, port: number, isUpgrade = false): string | undefined {
  const header = request.headers[tokenHeader];
  if (typeof header === 'string' && header) return header;
  const query = url.searchParams.get(tokenQuery);
  if (query) return query;
  if (!cookieAllowed(request.method, url.pathname, isUpgrade)) return undefined;
  const wanted = tokenCookieName(port);
  const cookies = request.headers.cookie ?? '';
  for (const part of cookies.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === wanted) return rest.join('=');
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
export function checkRequest(request: IncomingMessage, url: URL, port: number, token: string, isUpgrade = false): Refusal | undefined {
  const host = request.headers.host ?? '';
  if (!allowedHosts(port).has(host)) {
    return { status: 403, message: `Host ${JSON.stringify(host)} is not allowed: use http://127.0.0.1:${port}/.` };
  }
  const origin = request.headers.origin;
  if (origin !== undefined && !allowedOrigins(port).has(origin)) {
    return { status: 403, message: `Origin ${origin} is not allowed to use JigClu Studio.` };
  }
  const given = requestToken(request, url, port, isUpgrade);
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
