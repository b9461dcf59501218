import type { z } from 'zod';

/**
 * Deterministic generators for the fuzz suite (test/contract/fuzz.test.ts): a seeded PRNG,
 * hostile JSON values, values shaped like a contract call's arguments (valid by type, hostile
 * in content), raw request lines and headers, and WebSocket frames.
 */

/** mulberry32: a small seeded PRNG, so every run sends the same cases. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  bytes(length: number): Buffer {
    return Buffer.from(Array.from({ length }, () => this.int(256)));
  }
}

/** Strings that have broken parsers, paths and databases before. */
export const hostileStrings = [
  '',
  ' ',
  '\0',
  'a\0b',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '/',
  '%00',
  '%',
  '%zz',
  '\uD800',
  'x\uDFFF',
  '\uFEFF',
  '\u202E',
  '🐦'.repeat(40),
  "'; DROP TABLE images; --",
  '" OR 1=1 --',
  '<script>alert(1)</script>',
  '{{constructor.constructor("x")()}}',
  '__proto__',
  'constructor',
  'prototype',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  'A'.repeat(5000),
  'file:///etc/passwd',
  'http://127.0.0.1:1/',
  '\r\nSet-Cookie: x=1',
];

/** Numbers at and past every boundary. */
export const hostileNumbers = [0, -0, -1, 1, 0.5, -1.5, 2 ** 31, 2 ** 31 - 1, -(2 ** 31), 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e300, -1e300, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE];

/** A random hostile JSON value, `depth` levels deep at most. */
export function hostileValue(rng: Prng, depth = 3): unknown {
  const kind = rng.int(depth > 0 ? 9 : 6);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(hostileNumbers);
    case 3:
    case 4:
      return rng.pick(hostileStrings);
    case 5:
      return rng.int(1000) - 500;
    case 6:
      return Array.from({ length: rng.pick([0, 1, 2, 5, 300]) }, () => hostileValue(rng, depth - 1));
    case 7:
      return Object.fromEntries(Array.from({ length: rng.int(4) + 1 }, () => [rng.pick([...hostileStrings.slice(0, 25), 'id', 'name', 'runId', 'args']), hostileValue(rng, depth - 1)]));
    default: {
      // Deep nesting, past what any call takes.
      let value: unknown = rng.pick(hostileStrings);
      for (let i = 0; i < 40 + rng.int(200); i++) value = rng.chance(0.5) ? [value] : { a: value };
      return value;
    }
  }
}

interface ZodDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, string>;
  values?: unknown[];
  in?: z.ZodType;
  keyType?: z.ZodType;
  valueType?: z.ZodType;
}

function defOf(schema: z.ZodType): ZodDef {
  return (schema as unknown as { _zod: { def: ZodDef } })._zod.def;
}

/**
 * A value shaped by `schema`'s types with hostile content (boundary numbers, path-like and
 * broken strings, empty and long arrays). Whether it passes the schema's checks is for the
 * caller to find out with `safeParse`.
 */
export function shapedValue(rng: Prng, schema: z.ZodType, depth = 0): unknown {
  const def = defOf(schema);
  if (depth > 6) return null;
  switch (def.type) {
    case 'object': {
      const value: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(def.shape ?? {})) {
        const fieldDef = defOf(field);
        if ((fieldDef.type === 'optional' || fieldDef.type === 'default') && rng.chance(0.3)) continue;
        value[key] = shapedValue(rng, field, depth + 1);
      }
      return value;
    }
    case 'optional':
    case 'default':
    case 'nullable':
      if (def.type === 'nullable' && rng.chance(0.2)) return null;
      return shapedValue(rng, def.innerType!, depth + 1);
    case 'pipe':
      return shapedValue(rng, def.in!, depth + 1);
    case 'array':
      return Array.from({ length: rng.pick([0, 1, 2, 3, 50]) }, () => shapedValue(rng, def.element!, depth + 1));
    case 'union':
      return shapedValue(rng, rng.pick(def.options!), depth + 1);
    case 'enum':
      return rng.pick(Object.values(def.entries ?? {}));
    case 'literal':
      return rng.pick(def.values ?? [null]);
    case 'record':
      return { [String(shapedValue(rng, def.keyType!, depth + 1))]: shapedValue(rng, def.valueType!, depth + 1) };
    case 'number':
      return rng.chance(0.6) ? rng.pick([1, 2, 3, 7, 100, 999_999, 2 ** 31 - 1, 2 ** 53 - 1]) : rng.pick(hostileNumbers);
    case 'string':
      return rng.pick([...hostileStrings, 'bird', 'x', '#ff00aa', 'runs', 'ok name']);
    case 'boolean':
      return rng.chance(0.5);
    case 'null':
      return null;
    default:
      return hostileValue(rng, 1);
  }
}

/** A request line and headers no browser would send: methods, targets, duplicated or broken headers. */
export function hostileRequest(rng: Prng, port: number, token: string): string {
  const method = rng.pick(['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'G\x00T', 'get', 'X'.repeat(50)]);
  const targets = [
    '/%00',
    '/index.html%00',
    `/api/call/%00`,
    '/api/call/',
    '/api/call/appInfo/../settingsSet',
    '/api/call/%E0%A4%A',
    '/%',
    '/%zz',
    '//[',
    '/..%2f..%2f..%2fetc%2fpasswd',
    '/thumbs/-1',
    '/thumbs/99999999999999999999',
    '/images/1e3',
    '/thumbs/1?v=%00',
    '/api/events',
    '*',
    'http://evil.example/',
    `/${'a'.repeat(9000)}`,
    `/${encodeURIComponent(rng.bytes(20).toString('latin1'))}`,
    `/?token=${token}%00`,
  ];
  let target = rng.pick(targets);
  if (rng.chance(0.5)) target += `${target.includes('?') ? '&' : '?'}token=${token}`;
  const headers: string[] = [];
  const host = rng.pick([`127.0.0.1:${port}`, `127.0.0.1:${port}`, 'evil.example', '', `localhost:${port}`, `127.0.0.1:${port}\x00`]);
  if (host || rng.chance(0.5)) headers.push(`Host: ${host}`);
  if (rng.chance(0.3)) headers.push(`Host: 127.0.0.1:${port}`);
  if (rng.chance(0.5)) headers.push(`x-jigclu-token: ${rng.pick([token, '', 'x', `${token}\x00`])}`);
  if (rng.chance(0.4)) headers.push(`Cookie: jigclu_token_${port}=${rng.pick([token, '%00', ';;;'])}`);
  if (rng.chance(0.4)) headers.push(`Content-Type: ${rng.pick(['application/json', 'text/plain', 'application/json; charset=\x00', ''])}`);
  if (rng.chance(0.4)) headers.push(`Content-Length: ${rng.pick(['-1', 'abc', '0', '5', '99999999999999999999', '2'])}`);
  if (rng.chance(0.2)) headers.push('Transfer-Encoding: chunked, gzip');
  if (rng.chance(0.2)) headers.push(`Origin: ${rng.pick(['null', 'http://evil.example', `http://127.0.0.1:${port}`])}`);
  if (rng.chance(0.1)) headers.push(`X-Big: ${'b'.repeat(20_000)}`);
  if (rng.chance(0.1)) headers.push('Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: abc');
  headers.push('Connection: close');
  const body = rng.chance(0.4) ? rng.pick(['{"args":', '{}', '{"args":{"patch":{"theme":"dark"}}}', rng.bytes(64).toString('latin1'), '[]', 'null']) : '';
  return `${method} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
}
