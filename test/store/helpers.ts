import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import type { Database } from '../../main/store/db';

/**
 * Shared by the store tests (not a test file itself): temporary folders that are removed after
 * each test, and read-only views of a database's schema and contents.
 */

/**
 * Registers an afterEach that closes every database handed to `track` and removes every folder
 * made by `tempDir`. Call once at the top level of a test file.
 */
export function useTempDirs(): { tempDir: () => string; track: <T extends Database>(db: T) => T } {
  const dirs: string[] = [];
  const dbs: Database[] = [];
  afterEach(() => {
    for (const db of dbs.splice(0)) if (db.open) db.close();
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    tempDir() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-store-'));
      dirs.push(dir);
      return dir;
    },
    track(db) {
      dbs.push(db);
      return db;
    },
  };
}

/** Quotes an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** What a database holds, by name: tables with their columns in order, indexes, triggers, views. */
export interface SchemaSnapshot {
  tables: Record<string, string[]>;
  indexes: string[];
  triggers: string[];
  views: string[];
}

/** The app's own schema objects (SQLite's internal sqlite_* objects left out). */
export function schemaSnapshot(db: Database): SchemaSnapshot {
  const objects = db
    .prepare<[], { type: string; name: string }>(
      "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .all();
  const snapshot: SchemaSnapshot = { tables: {}, indexes: [], triggers: [], views: [] };
  for (const { type, name } of objects) {
    if (type === 'table') snapshot.tables[name] = columnsOf(db, name);
    else if (type === 'index') snapshot.indexes.push(name);
    else if (type === 'trigger') snapshot.triggers.push(name);
    else if (type === 'view') snapshot.views.push(name);
  }
  return snapshot;
}

/** Column names of a table, in declaration order. */
export function columnsOf(db: Database, table: string): string[] {
  return db
    .prepare<[string], { name: string }>('SELECT name FROM pragma_table_info(?) ORDER BY cid')
    .all(table)
    .map((column) => column.name);
}

/** What a later schema has that an earlier one lacks (and what it lost, which should be nothing). */
export interface SchemaDiff {
  /** New tables, with all their columns. */
  tables: Record<string, string[]>;
  /** New columns of tables that already existed. */
  columns: Record<string, string[]>;
  indexes: string[];
  triggers: string[];
  views: string[];
  /** Tables, columns ("table.column"), indexes, triggers or views that disappeared. */
  removed: string[];
}

export function schemaDiff(before: SchemaSnapshot, after: SchemaSnapshot): SchemaDiff {
  const diff: SchemaDiff = { tables: {}, columns: {}, indexes: [], triggers: [], views: [], removed: [] };
  for (const [table, columns] of Object.entries(after.tables)) {
    const old = before.tables[table];
    if (!old) diff.tables[table] = columns;
    else {
      const added = columns.filter((column) => !old.includes(column));
      if (added.length > 0) diff.columns[table] = added;
    }
  }
  for (const [table, columns] of Object.entries(before.tables)) {
    const now = after.tables[table];
    if (!now) diff.removed.push(table);
    else for (const column of columns) if (!now.includes(column)) diff.removed.push(`${table}.${column}`);
  }
  for (const kind of ['indexes', 'triggers', 'views'] as const) {
    diff[kind] = after[kind].filter((name) => !before[kind].includes(name));
    diff.removed.push(...before[kind].filter((name) => !after[kind].includes(name)));
  }
  return diff;
}

/** Every row of every table in `schema`, reading only the columns `schema` lists, in a stable order. */
export function dumpRows(db: Database, schema: SchemaSnapshot): Record<string, unknown[]> {
  const rows: Record<string, unknown[]> = {};
  for (const [table, columns] of Object.entries(schema.tables)) {
    const list = columns.map(ident).join(', ');
    rows[table] = db.prepare(`SELECT ${list} FROM ${ident(table)} ORDER BY ${list}`).all();
  }
  return rows;
}

/** The migrations log, oldest first. */
export function migrationLog(db: Database): { version: number; name: string; applied_at: string }[] {
  return db
    .prepare<[], { version: number; name: string; applied_at: string }>(
      'SELECT version, name, applied_at FROM schema_migrations ORDER BY version',
    )
    .all();
}

/** The per-migration test file that every migration must have, e.g. migration-0001.test.ts. */
export function migrationTestFileName(version: number): string {
  return `migration-${String(version).padStart(4, '0')}.test.ts`;
}

/** ISO-8601 UTC with milliseconds, as strftime('%Y-%m-%dT%H:%M:%fZ') writes it. */
export const isoTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
