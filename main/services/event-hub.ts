import type { EventName, EventPayload } from '../common/api-contract';

/** A listener that receives every event with its name. */
export type EventListener = <K extends EventName>(name: K, payload: EventPayload<K>) => void;

/** Fans events from the services out to every connected transport (IPC windows, WebSockets). */
export class EventHub {
  private readonly listeners = new Set<EventListener>();

  /** Sends an event to every subscriber; a failing subscriber never stops the others. */
  emit<K extends EventName>(name: K, payload: EventPayload<K>): void {
    for (const listener of this.listeners) {
      try {
        listener(name, payload);
      } catch {
        // A closed socket or destroyed window is dropped by its own transport.
      }
    }
  }

  /** Adds a subscriber; returns the function that removes it. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.listeners.size;
  }
}

/** Emits a `ping` event every `intervalMs`; returns a stop function. */
export function startPing(hub: EventHub, intervalMs: number): () => void {
  let seq = 0;
  const timer = setInterval(() => {
    seq += 1;
    hub.emit('ping', { seq, sentAt: new Date().toISOString() });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
