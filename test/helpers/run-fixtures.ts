import { presets } from '../../main/common/pretrain-config';
import type { FolderInfo } from '../../main/common/library';
import type { RunInfo } from '../../main/common/runs';

/** A finished cpu-small run as the contract lists it (renderer tests); `patch` sets any field. */
export function runInfo(id: number, patch: Partial<RunInfo> = {}): RunInfo {
  return {
    id,
    name: `Run ${id}`,
    note: '',
    config: presets['cpu-small'],
    engine: 'cpu',
    imageCount: 100,
    filesHash: 'abcdef0123456789',
    runDir: `/data/runs/${id}`,
    status: 'finished',
    error: null,
    startedAt: '2026-01-01T10:00:00.000Z',
    endedAt: '2026-01-01T10:05:00.000Z',
    finalLosses: null,
    knnAccuracy: null,
    lastStep: 0,
    checkpointCount: 0,
    totalSteps: 60,
    parentRunId: null,
    parentStep: null,
    monitor: null,
    ...patch,
  };
}

/** A library folder as the contract lists it (renderer tests): scanned, no labels; `patch` sets any field. */
export function folderInfo(id: number, name: string, images: number, patch: Partial<FolderInfo> = {}): FolderInfo {
  return {
    id,
    path: `/photos/${name}`,
    name,
    minSide: 8,
    maxPixels: 1e8,
    addedAt: '2026-01-01T00:00:00.000Z',
    images,
    rejected: 0,
    labelled: 0,
    duplicates: 0,
    thumbnailsPending: 0,
    scanStatus: 'finished',
    looksLikeClasses: false,
    labelsFromFolders: false,
    classes: [],
    ...patch,
  };
}
