import { migration0001 } from './0001-settings';
import { migration0002 } from './0002-library';
import { migration0003 } from './0003-runs';
import { migration0004 } from './0004-run-monitoring';
import { migration0005 } from './0005-embeddings';
import { migration0006 } from './0006-class-colours';
import { migration0007 } from './0007-classifiers';
import { migration0008 } from './0008-classifier-rounds';
import { migration0009 } from './0009-class-keys';
import type { Migration } from './types';

export type { Migration } from './types';

/** Every migration, in order. Append new ones; never edit or reorder applied ones. */
export const migrations: readonly Migration[] = [migration0001, migration0002, migration0003, migration0004, migration0005, migration0006, migration0007, migration0008, migration0009];

/** The schema version this build of the app writes. */
export const latestSchemaVersion = migrations.length;
