import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, StoreError } from '../../main/store/db';
import { useTempDirs } from './helpers';

const { tempDir } = useTempDirs();

describe('openDatabase on a file that is not a database', () => {
  it('refuses it with DATABASE_OPEN_FAILED naming the file and what to do, leaving it unchanged', () => {
    const file = path.join(tempDir(), 'jigclu.sqlite');
    fs.writeFileSync(file, 'these are holiday notes, not a database\n'.repeat(200));
    const before = fs.readFileSync(file);
    let error: unknown;
    try {
      openDatabase(file);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('DATABASE_OPEN_FAILED');
    expect((error as StoreError).message).toContain(file);
    expect((error as StoreError).message).toMatch(/--data-dir/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });
});
