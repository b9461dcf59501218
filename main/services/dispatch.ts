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
    appLog('error', 'call', `${name} failed`, error);
    return err('INTERNAL', `${name} failed: ${describeError(error)}`);
  }
}

/** HTTP status for a result, used by the browser host (errors stay data in the body). */
export function httpStatusFor(result: Result<unknown>): number {
  if (result.ok) return 200;
  switch (result.error.code) {
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

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return 'an unprintable error';
  }
}
