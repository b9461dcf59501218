import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { AppInfo, PingEvent } from '../../../main/common/api-contract';
import { engineDisplayName } from '../../../main/common/engine';
import type { AppError } from '../../../main/common/result';
import type { Settings, SettingsPatch } from '../../../main/common/settings';
import { api, onStorageError } from '../api';
import type { ConnectionState } from '../api/client';

/** App-wide state: app info (engine), settings, the connection and its heartbeat. */
export const useAppStore = defineStore('app', () => {
  const info = ref<AppInfo>();
  const settings = ref<Settings>();
  const error = ref<AppError>();
  const connection = ref<ConnectionState>('connecting');
  const lastPing = ref<PingEvent>();
  const aboutOpen = ref(false);
  /** The last problem with the data folder's storage a call met (read-only, full disk, damaged database). */
  const storageProblem = ref<AppError>();
  /** The user closed the storage banner (a new problem opens it again; a damaged database's never closes). */
  const storageDismissed = ref(false);

  const engineName = computed(() => info.value?.engine.chosen);
  const engineLabel = computed(() => (info.value ? engineDisplayName(info.value.engine) : undefined));

  let started = false;

  /** Loads info and settings and subscribes to events; safe to call more than once. */
  async function start(): Promise<void> {
    if (started) return;
    started = true;
    api().onConnection((state) => {
      connection.value = state;
    });
    api().on('ping', (ping) => {
      lastPing.value = ping;
    });
    api().on('menu', ({ command }) => {
      if (command === 'about') aboutOpen.value = true;
    });
    onStorageError((problem) => {
      // A damaged database stays the message: nothing else matters until it is recovered.
      if (storageProblem.value?.code !== 'DATABASE_CORRUPT') storageProblem.value = problem;
      storageDismissed.value = false;
    });
    await Promise.all([loadSettings(), loadInfo()]);
  }

  async function loadInfo(): Promise<void> {
    const result = await api().call('appInfo', {});
    if (result.ok) info.value = result.value;
    else error.value = result.error;
  }

  async function loadSettings(): Promise<void> {
    const result = await api().call('settingsGet', {});
    if (result.ok) settings.value = result.value;
    else error.value = result.error;
  }

  /** Saves a settings change; returns the error when the core refused it. */
  async function saveSettings(patch: SettingsPatch): Promise<AppError | undefined> {
    const result = await api().call('settingsSet', { patch });
    if (!result.ok) return result.error;
    // The engine report (which engine, how many threads) follows these two settings.
    const engineChanged = (patch.engine !== undefined && patch.engine !== settings.value?.engine) || (patch.threads !== undefined && patch.threads !== settings.value?.threads);
    settings.value = result.value;
    if (engineChanged) await loadInfo();
    return undefined;
  }

  /** Hides the storage banner until the next problem (a damaged database's stays). */
  function dismissStorageProblem(): void {
    if (storageProblem.value?.code !== 'DATABASE_CORRUPT') storageDismissed.value = true;
  }

  return { info, settings, error, connection, lastPing, aboutOpen, storageProblem, storageDismissed, engineName, engineLabel, start, loadInfo, saveSettings, dismissStorageProblem };
});
