import type { Migration } from './types';

/**
 * Class keys: the number key (1-9) that labels with a class, stored with the class so it never
 * changes when another class is added, renamed or deleted. Existing classes get keys 1-9 in
 * name order, the order that gave them their keys before, so a person's habits carry over;
 * classes past the ninth get none. A new class takes the smallest free key (trigger
 * classes_hotkey_new), whichever path creates it (the Label screen, folder names, the CLI); a
 * person may change or clear a key. Classes without a key are reached through the picker (`/`).
 */
export const migration0009: Migration = {
  version: 9,
  name: 'class keys',
  up(db) {
    db.exec(`
      ALTER TABLE classes ADD COLUMN hotkey INTEGER CHECK (hotkey IS NULL OR hotkey BETWEEN 1 AND 9);
      CREATE UNIQUE INDEX classes_hotkey ON classes (hotkey) WHERE hotkey IS NOT NULL;
      CREATE TRIGGER classes_hotkey_new AFTER INSERT ON classes WHEN NEW.hotkey IS NULL
      BEGIN
        UPDATE classes SET hotkey = (
          SELECT min(column1) FROM (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9))
          WHERE column1 NOT IN (SELECT hotkey FROM classes WHERE hotkey IS NOT NULL)
        ) WHERE id = NEW.id;
      END;
    `);
    const ids = db.prepare('SELECT id FROM classes ORDER BY name LIMIT 9').pluck().all() as number[];
    const setKey = db.prepare('UPDATE classes SET hotkey = ? WHERE id = ?');
    ids.forEach((id, index) => setKey.run(index + 1, id));
  },
};
