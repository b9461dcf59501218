import type { ClusteringInfo, Projection } from '../../../main/common/embeddings';
import type { ClassInfo, FolderInfo } from '../../../main/common/library';
import { classColor } from '../classes';

/** What the map colours its points by. */
export type MapColorBy = 'cluster' | 'label' | 'folder';

/** The colour of each map point (a category, -1 for none), the legend, and the categories' own colours. */
export interface MapColors {
  colors: Int32Array;
  categories: { id: number; name: string }[];
  /** Set when colouring by label: each class's colour, as the Label and Fine-tune screens show it. */
  categoryColors?: string[];
}

/**
 * The map's colours for a colouring: by cluster (the palette colour of the cluster, as on the
 * cluster cards), by label (each class in its own colour) or by folder (the palette).
 */
export function mapColorsFor(
  data: Pick<Projection, 'imageIds' | 'classIds' | 'folderIds'> | undefined,
  by: MapColorBy,
  sources: { clustering?: ClusteringInfo | null; assignments: Map<number, number>; classes: ClassInfo[]; folders: FolderInfo[] },
): MapColors {
  const n = data?.imageIds.length ?? 0;
  const colors = new Int32Array(n).fill(-1);
  if (!data) return { colors, categories: [] };
  if (by === 'cluster') {
    const info = sources.clustering;
    if (!info) return { colors, categories: [] };
    const categories = info.clusters.map((c) => ({ id: c.cluster, name: `Cluster ${c.cluster}${c.majority ? ` · ${c.majority}` : ''}` }));
    for (let i = 0; i < n; i += 1) colors[i] = sources.assignments.get(data.imageIds[i]!) ?? -1;
    return { colors, categories };
  }
  const ids = by === 'label' ? data.classIds : data.folderIds;
  const named: { id: number; name: string }[] = by === 'label' ? sources.classes : sources.folders;
  const present = [...new Set(ids.filter((id) => id >= 0))].sort((a, b) => a - b);
  const index = new Map(present.map((id, k) => [id, k]));
  for (let i = 0; i < n; i += 1) colors[i] = index.get(ids[i]!) ?? -1;
  const categories = present.map((id) => ({ id, name: named.find((entry) => entry.id === id)?.name ?? `#${id}` }));
  if (by !== 'label') return { colors, categories };
  const categoryColors = present.map((id) => classColor(sources.classes.find((entry) => entry.id === id) ?? { id, color: null }));
  return { colors, categories, categoryColors };
}
