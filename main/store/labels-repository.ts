import { StatementCache } from './statements';
import type { ClassInfo } from '../common/library';
import type { ClassDeletePreview } from '../common/labels';

/**
 * Classes and hand labels (tables of migrations 0002 and 0006) for the labels service. Bulk
 * reads pass the image ids as one JSON array (json_each), so 100,000 ids are one statement.
 * Every multi-row write runs in one transaction, which the caller opens with `transaction`.
 */

/** One image of a bulk request: whether it exists and its current hand label (null = none). */
export interface HandLabelRow {
  id: number;
  found: number;
  classId: number | null;
}

export class LabelsRepository extends StatementCache {
  // ---- classes ---------------------------------------------------------------------------

  /** One class with its counts, or undefined. */
  classInfo(id: number): ClassInfo | undefined {
    return this.prepare<[number], ClassInfo>(
      `SELECT c.id, c.name, c.color, c.hotkey AS key,
              (SELECT count(DISTINCT image_id) FROM labels l WHERE l.class_id = c.id) AS images,
              (SELECT count(*) FROM labels l WHERE l.class_id = c.id AND l.source = 'hand') AS hand,
              (SELECT count(*) FROM labels l WHERE l.class_id = c.id AND l.source = 'folder') AS folder
       FROM classes c WHERE c.id = ?`,
    ).get(id);
  }

  /** Every class's id and name (to compare names ignoring case). */
  classNames(): { id: number; name: string }[] {
    return this.prepare<[], { id: number; name: string }>('SELECT id, name FROM classes ORDER BY id').all();
  }

  classExists(id: number): boolean {
    return this.prepare<[number], { id: number }>('SELECT id FROM classes WHERE id = ?').get(id) !== undefined;
  }

  createClass(name: string, color: string | null): number {
    return Number(this.prepare('INSERT INTO classes (name, color) VALUES (?, ?)').run(name, color).lastInsertRowid);
  }

  renameClass(id: number, name: string): void {
    this.prepare('UPDATE classes SET name = ? WHERE id = ?').run(name, id);
  }

  recolourClass(id: number, color: string | null): void {
    this.prepare('UPDATE classes SET color = ? WHERE id = ?').run(color, id);
  }

  /**
   * Gives a class a number key (null: none). A key another class holds moves over: that class
   * gets this one's old key (a swap), so no two classes share one. Call inside a transaction.
   */
  setClassKey(id: number, key: number | null): void {
    const old = this.prepare<[number], { hotkey: number | null }>('SELECT hotkey FROM classes WHERE id = ?').get(id)?.hotkey ?? null;
    if (old === key) return;
    const holder = key === null ? undefined : this.prepare<[number], { id: number }>('SELECT id FROM classes WHERE hotkey = ?').get(key);
    this.prepare('UPDATE classes SET hotkey = NULL WHERE id = ?').run(id);
    if (holder) this.prepare('UPDATE classes SET hotkey = ? WHERE id = ?').run(old, holder.id);
    this.prepare('UPDATE classes SET hotkey = ? WHERE id = ?').run(key, id);
  }

  /** Labels of a class by source. */
  classLabelCounts(id: number): ClassDeletePreview {
    const row = this.prepare<[number], { hand: number | null; folder: number | null }>(
      `SELECT sum(source = 'hand') AS hand, sum(source = 'folder') AS folder FROM labels WHERE class_id = ?`,
    ).get(id)!;
    const hand = row.hand ?? 0;
    const folder = row.folder ?? 0;
    return { labels: hand + folder, hand, folder };
  }

  /**
   * Moves every label of `fromId` to `intoId` (each keeps its source, so an image never gets two
   * labels of one source), then deletes `fromId`. Returns how many labels moved. Call inside a
   * transaction.
   */
  mergeClasses(fromId: number, intoId: number): number {
    const moved = this.prepare('UPDATE labels SET class_id = ? WHERE class_id = ?').run(intoId, fromId).changes;
    this.prepare('DELETE FROM classes WHERE id = ?').run(fromId);
    return moved;
  }

  /** Deletes a class and its labels; returns how many labels went. Call inside a transaction. */
  deleteClass(id: number): number {
    const removed = this.prepare('DELETE FROM labels WHERE class_id = ?').run(id).changes;
    this.prepare('DELETE FROM classes WHERE id = ?').run(id);
    return removed;
  }

  // ---- hand labels -----------------------------------------------------------------------

  /** For each id (in the order given): whether the image exists and its hand label. */
  handLabels(imageIds: readonly number[]): HandLabelRow[] {
    return this.prepare<[string], HandLabelRow>(
      `SELECT j.value AS id, i.id IS NOT NULL AS found, l.class_id AS classId
       FROM json_each(?) j
       LEFT JOIN images i ON i.id = j.value
       LEFT JOIN labels l ON l.image_id = j.value AND l.source = 'hand'
       ORDER BY j.key`,
    ).all(JSON.stringify(imageIds));
  }

  /** Sets (or with null removes) the hand label of one image; never touches its folder label. */
  setHandLabel(imageId: number, classId: number | null): void {
    if (classId === null) {
      this.prepare("DELETE FROM labels WHERE image_id = ? AND source = 'hand'").run(imageId);
    } else {
      this.prepare(
        `INSERT INTO labels (image_id, class_id, source) VALUES (?, ?, 'hand')
         ON CONFLICT (image_id, source) DO UPDATE SET class_id = excluded.class_id, created_at = excluded.created_at`,
      ).run(imageId, classId);
    }
  }
}
