/**
 * Errors cross every boundary (IPC, HTTP, worker messages) as data, never as thrown
 * exceptions: an exception thrown across `ipcMain.handle` loses everything but its message.
 */

/** Machine-readable error codes shared by every transport. */
export const errorCodes = [
  'UNKNOWN_CALL',
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'CONFLICT',
  'UNAVAILABLE',
  'FORBIDDEN',
  /** The data folder cannot be written (a read-only folder or disk): reading still works. */
  'READ_ONLY',
  /** The disk holding the data folder is full; the change was not saved. */
  'DISK_FULL',
  /** SQLite found the database damaged: nothing more is written to it until it is recovered. */
  'DATABASE_CORRUPT',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

/** The codes that describe the data folder's storage rather than one call: the app shows them as a banner. */
export const storageErrorCodes = ['READ_ONLY', 'DISK_FULL', 'DATABASE_CORRUPT'] as const satisfies readonly ErrorCode[];

/** True for a storage problem (read-only folder, full disk, damaged database). */
export function isStorageErrorCode(code: ErrorCode): code is (typeof storageErrorCodes)[number] {
  return (storageErrorCodes as readonly ErrorCode[]).includes(code);
}

/** An error as data: a code for programs and a message a person understands. */
export interface AppError {
  code: ErrorCode;
  message: string;
}

export type Ok<T> = { ok: true; value: T };
export type Err = { ok: false; error: AppError };
export type Result<T> = Ok<T> | Err;

/** Wraps a value as a successful result. */
export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

/** Builds a failed result. */
export function err(code: ErrorCode, message: string): Err {
  return { ok: false, error: { code, message } };
}

/**
 * Thrown inside services to fail a call with a specific code; the dispatcher turns it into
 * an `Err` so it reaches the caller as data.
 */
export class ServiceError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ServiceError';
    this.code = code;
  }
}

/** True when `value` has the shape of a `Result` (used to check what crossed a transport). */
export function isResult(value: unknown): value is Result<unknown> {
  if (typeof value !== 'object' || value === null || !('ok' in value)) return false;
  const candidate = value as { ok: unknown; error?: { code?: unknown; message?: unknown } };
  if (candidate.ok === true) return true;
  return (
    candidate.ok === false &&
    typeof candidate.error?.code === 'string' &&
    typeof candidate.error.message === 'string'
  );
}
