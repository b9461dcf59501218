import type { Migration } from './types';

/**
 * Class colours: a CSS hex colour (#rrggbb) a person chose for a label class. Existing classes
 * get NULL, which means "take the next colour of the automatic palette".
 */
export const migration0006: Migration = {
  version: 6,
  name: 'class colours',
  up(db) {
    db.exec(`ALTER TABLE classes ADD COLUMN color TEXT CHECK (color IS NULL OR color GLOB '#[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]')`);
  },
};
