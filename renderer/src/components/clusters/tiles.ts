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

/** How a cluster is named: after its majority reference class, with what that rests on. */
export function clusterNameText(info: { majority: string | null; purity: number | null; labelled: number }): string {
  if (info.majority) return `mostly ${info.majority} · ${formatShare(info.purity)} of ${info.labelled.toLocaleString('en-US')}`;
  if (info.labelled > 0) return `${info.labelled.toLocaleString('en-US')} with a class: too few to name it`;
  return 'no class folders or labels';
}

/** What a clustering's scores are measured against: "the class folders of 300 images". */
export function scoresBasisText(scores: { labelled: number; fromFolders: number }): string {
  const n = scores.labelled;
  const images = `${n.toLocaleString('en-US')} image${n === 1 ? '' : 's'}`;
  if (n === 0) return 'no image with a class';
  if (scores.fromFolders === n) return `the class folders of ${images}`;
  if (scores.fromFolders === 0) return `the labels of ${images}`;
  return `${images} with a class (${scores.fromFolders.toLocaleString('en-US')} by class folder, ${(n - scores.fromFolders).toLocaleString('en-US')} by label)`;
}
