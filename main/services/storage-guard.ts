import type { CallName } from '../common/api-contract';
import { ServiceError } from '../common/result';
import type { Database } from '../store/db';
import { damagedMessage, diskFullMessage, readOnlyMessage, storageProblemOf } from '../store/storage-errors';
import { appLog } from '../log';
import type { Handlers } from './dispatch';

/** Calls that still answer once the database is found damaged: they read nothing from it. */
const callsWithoutDatabase = new Set<CallName>(['appInfo', 'logsInfo', 'tasksList']);

/**
 * Watches every call for storage problems: a full disk, a read-only data folder and a damaged
 * database each become their own error code with a message naming the folder. Once SQLite
 * reports damage (SQLITE_CORRUPT), the connection is switched to query_only, so nothing more
 * is written into the damaged file, and every call that uses the database is refused saying
 * how to recover.
 */
export class StorageGuard {
  private damage?: string;

  constructor(
    private readonly db: Database,
    private readonly dataDir: string,
    private readonly databaseFile: string,
  ) {}

  /** True once SQLite reported the database damaged. */
  get damaged(): boolean {
    return this.damage !== undefined;
  }

  /** Refuses a call before it runs when the database is known to be damaged. */
  before(name: CallName): void {
    if (this.damage !== undefined && !callsWithoutDatabase.has(name)) {
      throw new ServiceError('DATABASE_CORRUPT', damagedMessage(this.databaseFile, this.damage, { when: 'running' }));
    }
  }

  /** The error a call should fail with: storage problems get their own code; others pass through. */
  translate(error: unknown): unknown {
    if (error instanceof ServiceError && error.code !== 'INTERNAL') return error;
    switch (storageProblemOf(error, this.dataDir)) {
      case 'DISK_FULL':
        return new ServiceError('DISK_FULL', diskFullMessage(this.dataDir));
      case 'READ_ONLY':
        if (this.damage !== undefined) return new ServiceError('DATABASE_CORRUPT', damagedMessage(this.databaseFile, this.damage, { when: 'running' }));
        return new ServiceError('READ_ONLY', readOnlyMessage(this.dataDir));
      case 'DATABASE_CORRUPT':
        this.markDamaged((error as Error).message);
        return new ServiceError('DATABASE_CORRUPT', damagedMessage(this.databaseFile, this.damage!, { when: 'running' }));
      default:
        return error;
    }
  }

  /** Stops all writes to the database: SQLite itself refuses them from now on. */
  markDamaged(finding: string): void {
    if (this.damage !== undefined) return;
    this.damage = `SQLite reported: ${finding}`;
    appLog('error', 'store', `the database ${this.databaseFile} is damaged (${finding}); no more writes`);
    try {
      this.db.pragma('query_only = ON');
    } catch (error) {
      appLog('error', 'store', 'could not switch the damaged database to query_only', error);
    }
  }
}

/** Wraps every handler so that storage problems are refused or translated as `guard` says. */
export function guardHandlers(handlers: Handlers, guard: StorageGuard): Handlers {
  const guarded: Record<string, (args: unknown) => Promise<unknown>> = {};
  for (const [name, handler] of Object.entries(handlers) as [CallName, (args: unknown) => unknown][]) {
    guarded[name] = async (args: unknown) => {
      guard.before(name);
      try {
        return await handler(args);
      } catch (error) {
        throw guard.translate(error);
      }
    };
  }
  return guarded as unknown as Handlers;
}
