import { createClient, type ApiClient } from './client';

let client: ApiClient | undefined;

/** The app's API client, created on first use (tests install a fake with `useClient`). */
export function api(): ApiClient {
  client ??= createClient();
  return client;
}

/** Replaces the client (tests). */
export function useClient(replacement: ApiClient): void {
  client = replacement;
}
