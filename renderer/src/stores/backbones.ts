import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { EmbeddingSetInfo, EmbeddingSource } from '../../../main/common/embeddings';
import type { ClassInfo, FolderInfo } from '../../../main/common/library';
import type { AppError } from '../../../main/common/result';
import type { BackboneChoice, CheckpointInfo, RunInfo } from '../../../main/common/runs';
import { api } from '../api';

/** One entry of the backbone picker. */
export interface SourceOption {
  key: string;
  source: EmbeddingSource;
  label: string;
  runId: number;
  inUse: boolean;
}

/** "c:<run>:<step>" for a checkpoint, "r:<run>" for random init: a picker value. */
export function sourceKey(source: EmbeddingSource): string {
  return source.kind === 'checkpoint' ? `c:${source.runId}:${source.step}` : `r:${source.runId}`;
}

/** The source a picker value names, or undefined for anything else. */
export function parseSourceKey(key: string): EmbeddingSource | undefined {
  const checkpoint = /^c:(\d+):(\d+)$/.exec(key);
  if (checkpoint) return { kind: 'checkpoint', runId: Number(checkpoint[1]), step: Number(checkpoint[2]) };
  const random = /^r:(\d+)$/.exec(key);
  if (random) return { kind: 'random', runId: Number(random[1]) };
  return undefined;
}

/**
 * The backbone picker's entries: every checkpoint of every run, newest first (the backbone in use
 * among them, named with `inUseMark`), then a random init of the run's architecture when `random`.
 */
export function sourceOptions(
  runs: RunInfo[],
  checkpoints: Map<number, CheckpointInfo[]>,
  backbone: BackboneChoice | null,
  { random, inUseMark }: { random: boolean; inUseMark: string },
): SourceOption[] {
  const list: SourceOption[] = [];
  for (const run of runs) {
    const steps = [...new Set((checkpoints.get(run.id) ?? []).map((c) => c.step))].sort((a, b) => b - a);
    if (backbone?.runId === run.id && !steps.includes(backbone.step)) steps.unshift(backbone.step);
    for (const step of steps) {
      const inUse = backbone?.runId === run.id && backbone.step === step;
      const source: EmbeddingSource = { kind: 'checkpoint', runId: run.id, step };
      list.push({
        key: sourceKey(source),
        source,
        label: `${run.name} at step ${step.toLocaleString('en-US')}${inUse ? ` (${inUseMark})` : ''}`,
        runId: run.id,
        inUse,
      });
    }
    if (!random) continue;
    const init: EmbeddingSource = { kind: 'random', runId: run.id };
    list.push({
      key: sourceKey(init),
      source: init,
      label: `Random init (${run.name}'s architecture)`,
      runId: run.id,
      inUse: false,
    });
  }
  return list;
}

/** Every run's checkpoints (4 runs at a time), added to those `known`; a run that cannot be read keeps its old list. */
export async function readCheckpoints(
  runIds: number[],
  known: Map<number, CheckpointInfo[]>,
): Promise<Map<number, CheckpointInfo[]>> {
  const queue = [...runIds];
  const found = new Map(known);
  const worker = async (): Promise<void> => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const result = await api().call('runGet', { runId: id, maxPoints: 10 });
      if (result.ok) found.set(id, result.value.checkpoints);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return found;
}

/**
 * Which backbone embeds the images, and over which folders: the runs with their checkpoints, the
 * backbone in use, the library's folders and classes, the embedding sets, and the choice (a picker
 * value and a scope) with the set it names. Every choice bumps `generation`, so the stores that read
 * from the chosen set (clusters, map, similar images) drop answers that come back for an older one.
 * Choosing only changes the choice: the Clusters screen store tells the others to start again.
 */
export const useBackbonesStore = defineStore('backbones', () => {
  const runs = ref<RunInfo[]>([]);
  const checkpoints = shallowRef(new Map<number, CheckpointInfo[]>());
  const backbone = ref<BackboneChoice | null>(null);
  const folders = ref<FolderInfo[]>([]);
  const classes = ref<ClassInfo[]>([]);
  const sets = ref<EmbeddingSetInfo[]>([]);
  const loaded = ref(false);
  const loading = ref(false);
  const loadError = ref<AppError>();

  const selectedKey = ref<string>();
  /** Folders to work on; empty means the whole library. */
  const scope = ref<number[]>([]);
  /** Counts choices (backbone or scope): an answer asked under an older one is stale. */
  const generation = ref(0);

  /** True while the backbone shown is the default choice rather than the user's. */
  let autoSelected = false;
  let setsTimer: ReturnType<typeof setTimeout> | undefined;

  const options = computed(() =>
    sourceOptions(runs.value, checkpoints.value, backbone.value, { random: true, inUseMark: 'in use' }),
  );
  const source = computed(() => (selectedKey.value ? parseSourceKey(selectedKey.value) : undefined));
  const set = computed(() => sets.value.find((known) => sourceKey(known.source) === selectedKey.value));
  const folderIds = computed(() =>
    scope.value.length > 0 ? [...scope.value].sort((a, b) => a - b) : undefined,
  );
  const libraryImages = computed(
    () => set.value?.libraryImages ?? folders.value.reduce((sum, folder) => sum + folder.images, 0),
  );

  /** Reads runs, checkpoints, the backbone in use, folders, classes and sets (the choice stays). */
  async function load(): Promise<void> {
    loading.value = true;
    const [runsResult, backboneResult, setsResult, foldersResult, classesResult] = await Promise.all([
      api().call('runsList', {}),
      api().call('backboneGet', {}),
      api().call('embeddingSets', {}),
      api().call('libraryFolders', {}),
      api().call('libraryClasses', {}),
    ]);
    loadError.value = undefined;
    for (const result of [runsResult, backboneResult, setsResult, foldersResult, classesResult])
      if (!result.ok) loadError.value = result.error;
    if (runsResult.ok) runs.value = runsResult.value;
    if (backboneResult.ok) backbone.value = backboneResult.value;
    if (setsResult.ok) sets.value = setsResult.value;
    if (foldersResult.ok) {
      folders.value = foldersResult.value;
      scope.value = scope.value.filter((id) => folders.value.some((folder) => folder.id === id));
    }
    if (classesResult.ok) classes.value = classesResult.value;
    checkpoints.value = await readCheckpoints(runs.value.map((run) => run.id), checkpoints.value);
    loading.value = false;
    loaded.value = true;
  }

  /**
   * The picker value the screen should switch to after a load, or undefined when the choice stands.
   * The default follows the backbone in use (chosen on a run's page) until the user picks another.
   */
  function choiceToMake(): { key: string | undefined } | undefined {
    const keys = new Set(options.value.map((option) => option.key));
    const preferred = defaultKey();
    if (!selectedKey.value || !keys.has(selectedKey.value) || (autoSelected && preferred !== selectedKey.value))
      return { key: preferred };
    return undefined;
  }

  /** The backbone in use; else the newest checkpoint of the newest run; else a random init. */
  function defaultKey(): string | undefined {
    if (backbone.value)
      return sourceKey({ kind: 'checkpoint', runId: backbone.value.runId, step: backbone.value.step });
    for (const run of runs.value) {
      const newest = Math.max(-1, ...(checkpoints.value.get(run.id) ?? []).map((c) => c.step));
      if (newest >= 0) return sourceKey({ kind: 'checkpoint', runId: run.id, step: newest });
    }
    const first = runs.value[0];
    return first ? sourceKey({ kind: 'random', runId: first.id }) : undefined;
  }

  async function loadSets(): Promise<void> {
    const result = await api().call('embeddingSets', {});
    if (result.ok) sets.value = result.value;
  }

  /** Coalesces bursts (library changes, embedding progress) into one read of the sets. */
  function scheduleSets(delayMs = 500): void {
    if (setsTimer) return;
    setsTimer = setTimeout(() => {
      setsTimer = undefined;
      void loadSets();
    }, delayMs);
  }

  /** Records a set a call answered with (new, or newer than the one known). */
  function putSet(info: EmbeddingSetInfo): void {
    const index = sets.value.findIndex((known) => known.id === info.id);
    if (index >= 0) sets.value.splice(index, 1, info);
    else sets.value = [info, ...sets.value];
  }

  /** Reads the classes again (labels changed: their counts did). */
  async function loadClasses(): Promise<void> {
    const result = await api().call('libraryClasses', {});
    if (result.ok) classes.value = result.value;
  }

  /** Chooses the backbone (`byDefault`: the screen's choice, which follows the backbone in use); false for a bad value. */
  function choose(key: string, byDefault = false): boolean {
    if (!parseSourceKey(key)) return false;
    autoSelected = byDefault;
    selectedKey.value = key;
    generation.value += 1;
    return true;
  }

  /** Chooses the folders to work on (none: the whole library). */
  function chooseScope(ids: number[]): void {
    scope.value = [...new Set(ids)];
    generation.value += 1;
  }

  return {
    runs,
    checkpoints,
    backbone,
    folders,
    classes,
    sets,
    loaded,
    loading,
    loadError,
    selectedKey,
    scope,
    generation,
    options,
    source,
    set,
    folderIds,
    libraryImages,
    load,
    choiceToMake,
    loadSets,
    scheduleSets,
    putSet,
    loadClasses,
    choose,
    chooseScope,
  };
});
