import type { Database } from 'better-sqlite3';

/**
 * One numbered schema change. Migrations only ever add (tables, columns, indexes); they run in
 * a transaction at start-up, in order, and each has its own test in test/store/.
 */
export interface Migration {
  /** 1, 2, 3, ... with no gaps; stored in PRAGMA user_version once applied. */
  version: number;
  /** A few words, for the migrations log. */
  name: string;
  up(db: Database): void;
}
