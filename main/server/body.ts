import type { IncomingMessage } from 'node:http';

/** Why a request body could not be read: the HTTP status to answer and a message. */
export class BodyError extends Error {
  constructor(
    readonly status: 400 | 408 | 413,
    message: string,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

export interface BodyLimits {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  /** The whole body must arrive within this time after the headers. */
  timeoutMs: number;
}

/**
 * Reads a request body as UTF-8 text within limits: a declared or actual size over `maxBytes`
 * is a 413, a body that does not arrive in `timeoutMs` (a client that declared more than it
 * sent) is a 408, a connection lost half-way is a 400. Never throws synchronously; the request
 * is paused (not destroyed) on failure so that the caller can still answer on its socket.
 */
export function readBody(request: IncomingMessage, limits: BodyLimits): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxBytes) {
      reject(new BodyError(413, `The request body (${declared} bytes) is over the ${limits.maxBytes}-byte limit.`));
      return;
    }
    let size = 0;
    let settled = false;
    const chunks: Buffer[] = [];
    const finish = (error?: BodyError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.off('data', onData);
      if (error) {
        request.pause();
        reject(error);
      } else {
        resolve(Buffer.concat(chunks).toString('utf8'));
      }
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limits.maxBytes) {
        finish(new BodyError(413, `The request body is over the ${limits.maxBytes}-byte limit.`));
        return;
      }
      chunks.push(chunk);
    };
    const timer = setTimeout(
      () => finish(new BodyError(408, `The request body did not arrive within ${limits.timeoutMs / 1000} s (received ${size} bytes${Number.isFinite(declared) ? ` of ${declared} declared` : ''}).`)),
      limits.timeoutMs,
    );
    request.on('data', onData);
    request.on('end', () => finish());
    request.on('aborted', () => finish(new BodyError(400, 'The connection closed before the request body was complete.')));
    request.on('error', () => finish(new BodyError(400, 'The request body could not be read.')));
  });
}
