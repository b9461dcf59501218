import type { GpuAdapterReport } from '../common/engine';
import { isFromGpuHost, type FromGpuHost, type GpuError, type GpuErrorCode, type GpuPort, type GpuRequest, type GpuRequestType, type GpuResults } from './protocol';

/** A request the compute host answered with an error (or could not answer: it went away). */
export class GpuHostError extends Error {
  readonly code: GpuErrorCode | 'HOST_GONE';
  readonly remedy?: string;
  readonly adapter?: GpuAdapterReport;

  constructor(error: GpuError | { code: 'HOST_GONE'; message: string }) {
    super(error.message);
    this.code = error.code;
    if ('remedy' in error && error.remedy) this.remedy = error.remedy;
    if ('adapter' in error && error.adapter) this.adapter = error.adapter;
  }
}

/**
 * The trainer process's side of the compute host's protocol (protocol.ts): numbered requests,
 * answers matched by the number they answer, failures as GpuHostError. When the port closes
 * (the window or its renderer went away) every open request fails with HOST_GONE.
 */
export class GpuHostClient {
  private seq = 0;
  private lastSeen = 0;
  private readonly pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();
  private gone?: string;

  constructor(private readonly port: GpuPort) {
    port.onMessage((message) => this.receive(message));
    port.onClose?.(() => this.end('The compute window went away (it was closed or its renderer crashed). The last checkpoint is kept: resume the run.'));
  }

  /** Sends one request; resolves with its answer. `timeoutMs` bounds the wait (default: none). */
  request<K extends GpuRequestType>(request: Extract<GpuRequest, { type: K }>, timeoutMs?: number): Promise<GpuResults[K]> {
    if (this.gone) return Promise.reject(new GpuHostError({ code: 'HOST_GONE', message: this.gone }));
    this.seq += 1;
    const seq = this.seq;
    return new Promise<GpuResults[K]>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const settle = (): void => {
        if (timer) clearTimeout(timer);
        this.pending.delete(seq);
      };
      this.pending.set(seq, {
        resolve: (result) => {
          settle();
          resolve(result as GpuResults[K]);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => this.pending.get(seq)?.reject(new GpuHostError({ code: 'HOST_GONE', message: `The compute window did not answer ${request.type} within ${timeoutMs / 1000} s.` })), timeoutMs);
      }
      this.port.postMessage({ ...request, seq });
    });
  }

  /** True until the port closed or `close` was called. */
  get open(): boolean {
    return this.gone === undefined;
  }

  /** Closes the port (the desktop app then closes the window); open requests fail. */
  close(): void {
    if (this.gone) return;
    this.end('The compute window was closed.');
    this.port.close();
  }

  private receive(message: unknown): void {
    if (!isFromGpuHost(message)) return;
    const answer = message as FromGpuHost;
    if (answer.seq !== this.lastSeen + 1) {
      // A port neither loses nor reorders messages: if it ever did, no answer can be trusted.
      this.end(`Messages from the compute window arrived out of order (${this.lastSeen} then ${answer.seq}).`);
      return;
    }
    this.lastSeen = answer.seq;
    const waiting = this.pending.get(answer.re);
    if (!waiting) return;
    if (answer.type === 'result') waiting.resolve(answer.result);
    else waiting.reject(new GpuHostError(answer.error));
  }

  private end(reason: string): void {
    if (this.gone) return;
    this.gone = reason;
    for (const waiting of [...this.pending.values()]) waiting.reject(new GpuHostError({ code: 'HOST_GONE', message: reason }));
  }
}

/** Connects to the desktop app's WebGPU compute window; the same client each time. */
export type GpuHostConnector = () => Promise<GpuHostClient>;
