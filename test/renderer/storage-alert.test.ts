// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AppInfo, CallName } from '../../main/common/api-contract';
import { err, ok, type Result } from '../../main/common/result';
import { defaultSettings } from '../../main/common/settings';
import { api, useClient } from '../../renderer/src/api';
import type { ApiClient } from '../../renderer/src/api/client';
import StorageAlert from '../../renderer/src/components/StorageAlert.vue';
import { useAppStore } from '../../renderer/src/stores/app';

/**
 * The renderer shows the storage error codes (issue 17): a call answered READ_ONLY, DISK_FULL
 * or DATABASE_CORRUPT puts one banner over every view with the core's sentence; a read-only
 * data folder shows from the start; a damaged database's banner cannot be dismissed.
 */

const info = (readOnly: boolean): AppInfo =>
  ({
    name: 'JigClu Studio',
    version: '0.1.0',
    mode: 'browser',
    dataDir: '/data/jigclu',
    databasePath: '/data/jigclu/jigclu.sqlite',
    readOnly,
    schemaVersion: 8,
    platform: 'linux',
    arch: 'x64',
    versions: { node: '20', sqlite: '3' },
    engine: { chosen: 'cpu', requested: 'auto', candidates: [], probeMs: 1 },
  }) as AppInfo;

function fakeClient(readOnly: boolean, failures: Partial<Record<CallName, Result<never>>> = {}): ApiClient {
  return {
    transport: 'http',
    async call(name) {
      if (failures[name]) return failures[name] as never;
      if (name === 'appInfo') return ok(info(readOnly)) as never;
      if (name === 'settingsGet') return ok(defaultSettings()) as never;
      return err('UNAVAILABLE', `${name} is not faked`) as never;
    },
    on: () => () => undefined,
    onConnection: (listener) => {
      listener('open');
      return () => undefined;
    },
  };
}

beforeEach(() => setActivePinia(createPinia()));

async function mounted(client: ApiClient) {
  useClient(client);
  await useAppStore().start();
  const wrapper = mount(StorageAlert);
  await flushPromises();
  return wrapper;
}

describe('the storage banner', () => {
  it('is absent while nothing is wrong', async () => {
    const wrapper = await mounted(fakeClient(false));
    expect(wrapper.find('[data-testid="storage-alert"]').exists()).toBe(false);
  });

  it('says so from the start when the data folder is read-only, until dismissed; a refused change shows it again', async () => {
    const wrapper = await mounted(fakeClient(true, { settingsSet: err('READ_ONLY', 'The data folder /data/jigclu is read-only: ...') as never }));
    const alert = wrapper.get('[data-testid="storage-alert"]');
    expect(alert.attributes('data-code')).toBe('READ_ONLY');
    expect(alert.text()).toContain('Read-only data folder');
    expect(alert.text()).toContain('/data/jigclu');
    await wrapper.get('[data-testid="storage-alert-dismiss"]').trigger('click');
    expect(wrapper.find('[data-testid="storage-alert"]').exists()).toBe(false);
    await api().call('settingsSet', { patch: { theme: 'dark' } });
    await flushPromises();
    expect(wrapper.get('[data-testid="storage-alert"]').text()).toContain('is read-only');
  });

  it('shows DISK_FULL from any call with the core’s sentence, and can be dismissed', async () => {
    const sentence = 'The disk holding the data folder /data/jigclu is full: free some space there, then try again.';
    const wrapper = await mounted(fakeClient(false, { labelSet: err('DISK_FULL', sentence) as never }));
    expect((await api().call('labelSet', { imageIds: [1], classId: 1 })).ok).toBe(false);
    await flushPromises();
    const alert = wrapper.get('[data-testid="storage-alert"]');
    expect(alert.attributes('data-code')).toBe('DISK_FULL');
    expect(alert.text()).toContain('The disk is full');
    expect(alert.text()).toContain(sentence);
    await wrapper.get('[data-testid="storage-alert-dismiss"]').trigger('click');
    expect(wrapper.find('[data-testid="storage-alert"]').exists()).toBe(false);
  });

  it('keeps a damaged database on screen, whatever comes after, with no dismiss', async () => {
    const wrapper = await mounted(
      fakeClient(false, {
        libraryPage: err('DATABASE_CORRUPT', 'The database /data/jigclu/jigclu.sqlite is damaged. To recover: ...') as never,
        settingsSet: err('READ_ONLY', 'read-only') as never,
      }),
    );
    await api().call('libraryPage', {});
    await api().call('settingsSet', { patch: {} });
    await flushPromises();
    const alert = wrapper.get('[data-testid="storage-alert"]');
    expect(alert.attributes('data-code')).toBe('DATABASE_CORRUPT');
    expect(alert.text()).toContain('To recover');
    expect(wrapper.find('[data-testid="storage-alert-dismiss"]').exists()).toBe(false);
  });

  it('ignores errors that are not about storage', async () => {
    const wrapper = await mounted(fakeClient(false, { classCreate: err('CONFLICT', 'exists') as never }));
    await api().call('classCreate', { name: 'x' });
    await flushPromises();
    expect(wrapper.find('[data-testid="storage-alert"]').exists()).toBe(false);
  });
});
