import { minMonitorQueries, type RunInfo, type RunStatus } from '../../../../main/common/runs';

/** Number formatting shared by the run views: one locale, so every screen reads the same. */

/** An integer or count: 12,345. */
export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return Math.round(value).toLocaleString('en-US');
}

/** A value with a few significant digits: 0.0312, 4.21, 1,234. */
export function formatValue(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6)) return value.toExponential(2);
  if (magnitude >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toLocaleString('en-US', { maximumSignificantDigits: digits });
}

/** A fraction (0..1) as a percentage with one decimal: 87.5%. */
export function formatPercent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '—';
  return `${(fraction * 100).toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 })}%`;
}

/** A duration in seconds: 1h 02m, 3m 05s, 12s. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s >= 86_400) return `${Math.floor(s / 86_400)}d ${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Seconds between two ISO times (the second one defaults to now). */
export function secondsBetween(from: string, to?: string | null): number | undefined {
  const start = Date.parse(from);
  const end = to ? Date.parse(to) : Date.now();
  if (!Number.isFinite(start) || !Number.isFinite(end)) return undefined;
  return Math.max(0, (end - start) / 1000);
}

/** A date and time, short: Mar 4, 14:05. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '—';
  return date.toLocaleString('en-US', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });
}

/** Megabytes, rounded: ≈ 1,234 MiB (≈ 1.2 GiB above a GiB). */
export function formatMemory(mb: number | null | undefined): string {
  if (mb === null || mb === undefined || !Number.isFinite(mb)) return '—';
  if (mb >= 1024) return `≈ ${(mb / 1024).toLocaleString('en-US', { maximumFractionDigits: 1 })} GiB`;
  return `≈ ${Math.round(mb).toLocaleString('en-US')} MiB`;
}

/** Words for run statuses. */
export const statusText: Record<RunStatus, string> = {
  running: 'training',
  paused: 'paused',
  finished: 'finished',
  cancelled: 'cancelled',
  crashed: 'crashed',
  interrupted: 'interrupted',
};

/** True while a run holds the trainer. */
export function isTraining(status: RunStatus | undefined): boolean {
  return status === 'running' || status === 'paused';
}

/** True for runs that stopped before their end and can resume from a checkpoint. */
export function isResumable(status: RunStatus | undefined): boolean {
  return status === 'interrupted' || status === 'crashed' || status === 'cancelled';
}

/** A patch location in words: TL/TR/BL/BR on a 2x2 grid, "r,c" (1-based) otherwise. */
export function locationName(location: number, grid: number): string {
  if (grid === 2) return ['TL', 'TR', 'BL', 'BR'][location] ?? String(location);
  return `${Math.floor(location / grid) + 1},${(location % grid) + 1}`;
}

/** True when a run's kNN monitor rests on enough held-out images for its accuracy to be shown. */
export function knnShown(run: Pick<RunInfo, 'monitor'>): boolean {
  return run.monitor !== null && run.monitor.queries >= minMonitorQueries;
}

/** A run's last kNN accuracy with the images it rests on ("41.7% of 60"), or why there is none. */
export function formatKnn(run: Pick<RunInfo, 'monitor' | 'knnAccuracy'>): string {
  if (!run.monitor) return '—';
  if (!knnShown(run)) return `hidden: ${formatCount(run.monitor.queries)} held out`;
  return `${formatPercent(run.knnAccuracy)} of ${formatCount(run.monitor.queries)}`;
}
