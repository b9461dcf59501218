/**
 * A child process for the kill-cycle test (test/store/kill-cycles.test.ts): opens the database
 * as the app does (openDatabase: quick_check, WAL, migrations; the storage guard) and, round
 * after round, hand-labels one chunk of the synthetic images through the contract's dispatcher
 * and the labels service, printing `ack <round>` once a call has answered (acknowledged), until
 * it is killed. Round r labels chunk r mod <chunks> with class A (r even) or B (r odd).
 * Usage: node label-writer.js <dataDir> <chunkSize> <chunks> <firstRound> <classA> <classB>
 */
import fs from 'node:fs';
import { databasePath } from '../../main/paths';
import type { ServiceContext } from '../../main/services/app-services';
import { dispatch, type Handlers } from '../../main/services/dispatch';
import { labelsHandlers } from '../../main/services/labels';
import { guardHandlers, StorageGuard } from '../../main/services/storage-guard';
import { openDatabase } from '../../main/store/db';

const [dataDir, chunkArg, chunksArg, firstArg, classA, classB] = process.argv.slice(2);
const chunk = Number(chunkArg);
const chunks = Number(chunksArg);
const file = databasePath(dataDir!);
const db = openDatabase(file);
const context = { db, dataDir: dataDir!, databasePath: file } as ServiceContext;
const handlers = guardHandlers(labelsHandlers(context) as unknown as Handlers, new StorageGuard(db, dataDir!, file));
const say = (line: string): void => void fs.writeSync(1, `${line}\n`);
say('ready');
for (let round = Number(firstArg); ; round++) {
  const first = (round % chunks) * chunk + 1;
  const imageIds = Array.from({ length: chunk }, (_, i) => first + i);
  const result = await dispatch(handlers, 'labelSet', { imageIds, classId: Number(round % 2 === 0 ? classA : classB) });
  if (!result.ok) {
    say(`error ${result.error.code} ${result.error.message}`);
    process.exit(1);
  }
  say(`ack ${round}`);
}
