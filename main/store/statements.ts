import type { Database, Statement } from 'better-sqlite3';

/**
 * Base of the repositories that prepare many statements: each SQL text is prepared once and
 * cached, and `transaction` runs work in one immediate transaction (all of it, or none).
 */
export class StatementCache {
  private readonly statements = new Map<string, Statement>();

  constructor(readonly db: Database) {}

  /** A prepared statement, cached by its SQL. */
  protected prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): Statement<P, R> {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement as unknown as Statement<P, R>;
  }

  /** Runs `work` in one (immediate) transaction: all of it is written, or none. */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }
}
