/** What an image tile of the Clusters screen shows. */
export interface TileData {
  imageId: number;
  /** Thumbnail version (start of the content hash), when known. */
  version?: string;
  /** The line under the thumbnail: a file name, a distance, a label. */
  caption: string;
  /** Tooltip: the path inside its folder. */
  title?: string;
  /** Distance to the cluster centre or to the query image. */
  distance?: number;
  outlier?: boolean;
  label?: string | null;
}

/** A distance as tiles show it: 0.0312. */
export function formatDistance(value: number | undefined | null): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '—';
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(1);
  return value.toFixed(Math.abs(value) < 10 ? 3 : 1);
}

/** A share as a percentage without decimals: 87%. */
export function formatShare(value: number | undefined | null): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '—';
  return `${Math.round(value * 100)}%`;
}
