/**
 * A child process for test/store/label-kill.test.ts: the real labels service (`labelSet`
 * through the dispatcher, as the IPC and HTTP hosts call it) over the app's database, labelling
 * every image of one folder again and again, each time with the next class, until it is killed.
 * After each bulk returns it prints "ack <bulk> <classId>" (a synchronous write, so a printed
 * acknowledgement was really answered). Usage: node label-writer.js <database> <folderId> <classIds,...>
 */
import fs from 'node:fs';
import type { ServiceContext } from '../../main/services/app-services';
import { dispatch } from '../../main/services/dispatch';
import type { Handlers } from '../../main/services/dispatch';
import { labelsHandlers } from '../../main/services/labels';
import { openDatabase } from '../../main/store/db';

const [file, folderArg, classesArg] = process.argv.slice(2);
const db = openDatabase(file!);
// The labels service reads only the database (and `emit`, optional) from its context.
const handlers = labelsHandlers({ db } as ServiceContext) as Handlers;
const imageIds = db.prepare('SELECT id FROM images WHERE folder_id = ? ORDER BY id').pluck().all(Number(folderArg)) as number[];
const classIds = classesArg!.split(',').map(Number);
const say = (line: string) => fs.writeSync(1, `${line}\n`);

say('ready');
for (let bulk = 0; ; bulk += 1) {
  const classId = classIds[bulk % classIds.length]!;
  const result = await dispatch(handlers, 'labelSet', { imageIds, classId });
  if (!result.ok) {
    process.stderr.write(`labelSet failed: ${result.error.code} ${result.error.message}\n`);
    process.exit(2);
  }
  say(`ack ${bulk} ${classId}`);
}
