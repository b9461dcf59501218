/**
 * Long work (import, training, embedding, fine-tuning) runs as tasks: each reports counts, a
 * rate and an ETA, and can be cancelled. The same shape feeds the UI's task store and the
 * CLI's progress bars.
 */

export type TaskStatus = 'running' | 'finished' | 'failed' | 'cancelled';

export interface TaskInfo {
  id: string;
  /** What kind of work: 'import', 'thumbnails', 'pretrain', ... */
  kind: string;
  /** A short title a person reads: "Importing cifar10-dev". */
  title: string;
  status: TaskStatus;
  /** Units done so far and the total when known (files, steps, images). */
  done: number;
  total?: number;
  /** What the units are, plural: "files", "steps". */
  unit: string;
  /** Units per second, smoothed. */
  rate?: number;
  /** Seconds left at the current rate, when the total is known (none while paused). */
  etaSeconds?: number;
  /** True while the work is paused (a pretraining run): no ETA then. */
  paused?: boolean;
  /** The latest line of detail: the current file, the last loss. */
  message?: string;
  /** Named counts a task keeps besides `done` (an import: seen, imported, rejected, ...). */
  counts?: Record<string, number>;
  /** Set when status is 'failed'. */
  error?: string;
  /** When the trainer process crashed: the last lines of its output (stderr, else its log). */
  logExcerpt?: string;
  /** When the trainer process crashed: the crash report file in the log folder. */
  crashReport?: string;
  startedAt: string;
  endedAt?: string;
}

/** Formats an ETA in seconds as "1 h 02 min", "3 min 05 s" or "12 s". */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${s} s`;
}
