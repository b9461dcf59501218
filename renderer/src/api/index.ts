import { isStorageErrorCode, type AppError } from '../../../main/common/result';
import { createClient, type ApiClient } from './client';

let client: ApiClient | undefined;
let reporting: { inner: ApiClient; outer: ApiClient } | undefined;
const storageListeners = new Set<(error: AppError) => void>();

/**
 * The client with one addition: a failed call whose error is about the data folder's storage
 * (READ_ONLY, DISK_FULL, DATABASE_CORRUPT) is also reported to `onStorageError` listeners, so
 * the app shows it once, whichever view made the call.
 */
function reportingClient(inner: ApiClient): ApiClient {
  return {
    transport: inner.transport,
    async call(name, args) {
      const result = await inner.call(name, args);
      if (!result.ok && isStorageErrorCode(result.error.code)) for (const listener of storageListeners) listener(result.error);
      return result;
    },
    on: (name, listener) => inner.on(name, listener),
    onConnection: (listener) => inner.onConnection(listener),
  };
}

/** The app's API client, created on first use (tests install a fake with `useClient`). */
export function api(): ApiClient {
  client ??= createClient();
  if (reporting?.inner !== client) reporting = { inner: client, outer: reportingClient(client) };
  return reporting.outer;
}

/** Replaces the client (tests). */
export function useClient(replacement: ApiClient): void {
  client = replacement;
}

/** Calls `listener` with every storage error any call returns; returns the unsubscribe function. */
export function onStorageError(listener: (error: AppError) => void): () => void {
  storageListeners.add(listener);
  return () => storageListeners.delete(listener);
}
