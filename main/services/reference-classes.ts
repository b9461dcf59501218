import type { Database } from 'better-sqlite3';
import { looksLikeClassLayout } from '../data/scan';
import { LibraryRepository } from '../store/library-repository';

/**
 * Reference classes: the truth a person already has about their images, for scoring what the
 * backbone found (NMI, ARI and purity of a clustering, cluster names, the kNN monitor of a run)
 * without turning anything into labels.
 *
 * An image's reference class is its class subfolder (`root/<class>/...`, or the folder below
 * `train/`, `test/`...) when its library folder is laid out in classes (the layout the Library
 * offers to import as labels, or whose names were imported); otherwise its label (a hand label
 * wins over a folder label); otherwise it has none. Class subfolders come first because they
 * were there before the backbone: hand labels given to a whole cluster would score the
 * clustering against itself. Names are compared ignoring case, so a hand class `Bird` and a
 * folder `bird` are one class.
 */

/** Where a reference class comes from. */
export type ReferenceSource = 'folder' | 'label';

export interface ReferenceClass {
  /** The class name as first seen. */
  name: string;
  /** A small integer per distinct class (ignoring case), for the metrics. */
  index: number;
  source: ReferenceSource;
}

/** Reference classes of some images (all when `imageIds` is left out). */
export interface ReferenceClasses {
  byImage: Map<number, ReferenceClass>;
  /** Class names by index. */
  names: string[];
}

/** The ids of library folders whose subfolders count as classes. */
export function classLayoutFolders(db: Database): Set<number> {
  const repo = new LibraryRepository(db);
  const ids = new Set<number>();
  for (const row of repo.folders()) {
    if (row.labels_from_folders === 1) {
      ids.add(row.id);
      continue;
    }
    const classes = repo.folderClasses(row.id);
    if (looksLikeClassLayout(classes.map((entry) => entry.images), repo.folderCounts(row.id).images)) ids.add(row.id);
  }
  return ids;
}

/** The reference class of each image that has one (see the module comment). */
export function referenceClasses(db: Database, imageIds?: readonly number[]): ReferenceClasses {
  const layout = classLayoutFolders(db);
  const label = `(SELECT c.name FROM labels l JOIN classes c ON c.id = l.class_id WHERE l.image_id = i.id ORDER BY l.source = 'hand' DESC LIMIT 1)`;
  const rows = (
    imageIds
      ? db.prepare(`SELECT i.id, i.folder_id, i.folder_class, ${label} AS label FROM json_each(?) j JOIN images i ON i.id = j.value`).all(JSON.stringify(imageIds))
      : db.prepare(`SELECT i.id, i.folder_id, i.folder_class, ${label} AS label FROM images i`).all()
  ) as { id: number; folder_id: number; folder_class: string | null; label: string | null }[];
  const byImage = new Map<number, ReferenceClass>();
  const names: string[] = [];
  const indexOf = new Map<string, number>();
  for (const row of rows) {
    const fromFolder = row.folder_class !== null && layout.has(row.folder_id);
    const name = fromFolder ? row.folder_class : row.label;
    if (name === null) continue;
    const key = name.toLocaleLowerCase();
    let index = indexOf.get(key);
    if (index === undefined) {
      index = names.length;
      indexOf.set(key, index);
      names.push(name);
    }
    byImage.set(row.id, { name: names[index]!, index, source: fromFolder ? 'folder' : 'label' });
  }
  return { byImage, names };
}
