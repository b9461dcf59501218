import type { Database } from 'better-sqlite3';

/** Reads and writes the key/value settings table; values are stored as JSON. */
export class SettingsRepository {
  private readonly selectAll;
  private readonly selectOne;
  private readonly upsert;

  constructor(private readonly db: Database) {
    this.selectAll = db.prepare<[], { key: string; value: string }>('SELECT key, value FROM settings');
    this.selectOne = db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?');
    this.upsert = db.prepare<[string, string]>(
      `INSERT INTO settings (key, value) VALUES (?, ?)
       ON CONFLICT(key) DO UPDATE SET value = excluded.value,
         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
    );
  }

  /** Every stored key with its parsed value. */
  all(): Record<string, unknown> {
    const entries: Record<string, unknown> = {};
    for (const row of this.selectAll.all()) entries[row.key] = JSON.parse(row.value);
    return entries;
  }

  /** One stored value, or undefined. */
  get(key: string): unknown {
    const row = this.selectOne.get(key);
    return row ? JSON.parse(row.value) : undefined;
  }

  /** Writes several keys in one transaction: all of them or none. */
  setMany(values: Record<string, unknown>): void {
    const write = this.db.transaction((pairs: [string, unknown][]) => {
      for (const [key, value] of pairs) {
        const json = JSON.stringify(value);
        if (json === undefined) throw new TypeError(`Setting ${key} cannot be stored: ${typeof value} is not JSON.`);
        this.upsert.run(key, json);
      }
    });
    write(Object.entries(values).filter(([, value]) => value !== undefined));
  }
}
