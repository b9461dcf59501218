import { z } from 'zod';
import {
  calls,
  isCallName,
  type CallName,
  type CallResult,
  type ParsedCallArgs,
} from '../common/api-contract';
import { err, ok, ServiceError, type Result } from '../common/result';
import { appLog } from '../log';

/** The implementation of every call of the contract; arguments arrive validated. */
export type Handlers = {
  [K in CallName]: (args: ParsedCallArgs<K>) => Promise<CallResult<K>> | CallResult<K>;
};

/**
 * The one entry point both transports use: refuses unknown calls, validates the arguments
 * against the contract's schema, runs the handler, and returns every failure as data.
 */
export async function dispatch(handlers: Handlers, name: unknown, rawArgs: unknown): Promise<Result<unknown>> {
  if (!isCallName(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 100)) : `of type ${typeof name}`;
    return err('UNKNOWN_CALL', `Unknown call ${shown}: the API has no such call.`);
  }
  const malformed = malformedText(rawArgs);
  if (malformed) return err('INVALID_ARGUMENT', `Invalid arguments for ${name}: ${malformed}`);
  const parsed = calls[name].args.safeParse(rawArgs ?? {});
  if (!parsed.success) {
    return err('INVALID_ARGUMENT', `Invalid arguments for ${name}: ${z.prettifyError(parsed.error)}`);
  }
  try {
    const handler = handlers[name] as (args: unknown) => unknown;
    return ok(await handler(parsed.data));
  } catch (error) {
    if (error instanceof ServiceError) {
      if (error.code === 'INTERNAL') appLog('error', 'call', `${name} failed: ${error.message}`);
      return err(error.code, error.message);
    }
    const unique = uniqueViolation(error);
    if (unique) return err('CONFLICT', `${name}: ${unique}`);
    appLog('error', 'call', `${name} failed`, error);
    return err('INTERNAL', `${name} failed: ${describeError(error)}`);
  }
}

/**
 * HTTP status for a result, used by the browser host (errors stay data in the body). The only
 * 5xx answers are the documented ones: 503 UNAVAILABLE (the host cannot do it now) and
 * DATABASE_CORRUPT, 507 DISK_FULL, and 500 INTERNAL (a bug, logged).
 */
export function httpStatusFor(result: Result<unknown>): number {
  if (result.ok) return 200;
  switch (result.error.code) {
    case 'READ_ONLY':
      return 409;
    case 'DISK_FULL':
      return 507;
    case 'DATABASE_CORRUPT':
      return 503;
    case 'UNKNOWN_CALL':
    case 'NOT_FOUND':
      return 404;
    case 'INVALID_ARGUMENT':
      return 400;
    case 'CONFLICT':
      return 409;
    case 'FORBIDDEN':
      return 403;
    case 'UNAVAILABLE':
      return 503;
    default:
      return 500;
  }
}

/** Deepest nesting of arguments accepted; no call needs more than a few levels. */
const maxDepth = 32;
/** A UTF-16 surrogate without its partner: not well-formed text, stored as invalid UTF-8. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why raw arguments are not well-formed text, or undefined: every string and key must be
 * well-formed Unicode (no lone surrogate) and the nesting shallow. Checked before the schemas,
 * so no handler ever sees such text and no deep nesting reaches a recursive validator.
 */
export function malformedText(value: unknown): string | undefined {
  const stack: { value: unknown; at: string; depth: number }[] = [{ value, at: 'args', depth: 0 }];
  while (stack.length > 0) {
    const { value: current, at, depth } = stack.pop()!;
    if (typeof current === 'string') {
      if (loneSurrogate.test(current)) return `${at} is not well-formed text (it has a lone UTF-16 surrogate).`;
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= maxDepth) return `${at} is nested more than ${maxDepth} levels deep.`;
    for (const [key, item] of Object.entries(current)) {
      if (loneSurrogate.test(key)) return `a key in ${at} is not well-formed text (it has a lone UTF-16 surrogate).`;
      stack.push({ value: item, at: Array.isArray(current) ? `${at}[${key}]` : `${at}.${key.slice(0, 50)}`, depth: depth + 1 });
    }
  }
  return undefined;
}

/** A UNIQUE or PRIMARY KEY violation from SQLite, as a sentence; undefined for other errors. */
function uniqueViolation(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  if (code !== 'SQLITE_CONSTRAINT_UNIQUE' && code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') return undefined;
  const columns = /constraint failed: (.+)$/.exec((error as Error).message)?.[1];
  return `that already exists${columns ? ` (${columns} must be unique)` : ''}.`;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return 'an unprintable error';
  }
}
