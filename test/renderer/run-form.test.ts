// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { defineComponent } from 'vue';
import { createMemoryHistory, createRouter } from 'vue-router';
import type { CallName } from '../../main/common/api-contract';
import type { EngineReport } from '../../main/common/engine';
import type { FolderInfo } from '../../main/common/library';
import { presets, stepsPerEpochFor, type PretrainConfig } from '../../main/common/pretrain-config';
import { err } from '../../main/common/result';
import type { PretrainEstimate, RunInfo } from '../../main/common/runs';
import { useClient } from '../../renderer/src/api';
import { fakeClient, type Handler } from '../helpers/fake-client';
import { folderInfo } from '../helpers/run-fixtures';
import RunForm from '../../renderer/src/components/runs/RunForm.vue';


const folder = (id: number, name: string, images: number): FolderInfo => folderInfo(id, name, images);

const engine: EngineReport = {
  chosen: 'wasm',
  requested: 'auto',
  candidates: [
    { name: 'tfjs-node-gpu', available: false, reason: 'No CUDA GPU was found.', remedy: 'Install the CUDA 11.8 drivers.' },
    { name: 'tfjs-node', available: false, reason: 'The native TensorFlow library did not load.' },
    { name: 'wasm', available: true, reason: 'Loaded.' },
    { name: 'cpu', available: true, reason: 'Always there.' },
  ],
  probeMs: 12 };

/** The app's estimate: like the real one, it checks the batch against the images of the chosen folders. */
function estimateFor(args: { folderIds?: number[]; preset: 'cpu-small'; overrides: Record<string, unknown>; measure?: boolean }, folders: FolderInfo[]): PretrainEstimate {
  const imageCount = folders.filter((entry) => !args.folderIds || args.folderIds.includes(entry.id)).reduce((sum, entry) => sum + entry.images, 0);
  const config = { ...presets[args.preset], ...args.overrides } as PretrainConfig;
  const errors = config.seed === 13 ? [{ field: 'seed', message: 'seed 13 is unlucky' }] : [];
  const stepsPerEpoch = stepsPerEpochFor(imageCount, config.batch);
  return {
    imageCount,
    config: errors.length ? null : config,
    errors,
    stepsPerEpoch,
    totalSteps: stepsPerEpoch * config.epochs,
    memoryMb: 321,
    engine,
    timing: args.measure ? { secondsPerStep: 0.5, secondsPerEpoch: 125, totalSeconds: 3725, source: 'measured', note: 'measured: 3 warm-up steps on wasm took 500 ms each' } : null,
    timingNote: args.measure ? null : 'Not measured yet.' };
}

const Stub = defineComponent({ template: '<div />' });
const folders = [folder(1, 'cats', 40), folder(2, 'dogs', 200)];

async function mountForm(overrides: Partial<Record<CallName, Handler>> = {}) {
  const fake = fakeClient({
    libraryFolders: () => folders,
    pretrainEstimate: (args: Parameters<typeof estimateFor>[0]) => estimateFor(args, folders),
    pretrainStart: () => ({ id: 7, config: presets['cpu-small'], totalSteps: 140, lastStep: 0 }) as RunInfo,
    ...overrides });
  useClient(fake.client);
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/pretrain', component: Stub },
      { path: '/runs/:id', component: Stub },
      { path: '/library', component: Stub },
    ] });
  await router.push('/pretrain');
  const wrapper = mount(RunForm, { global: { plugins: [router] }, attachTo: document.body });
  await flushPromises();
  return { wrapper, fake, router };
}

/** Lets the 300 ms debounce run and the estimate come back. */
async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(350);
  await flushPromises();
}

beforeEach(() => {
  vi.useFakeTimers();
  setActivePinia(createPinia());
});

afterEach(() => {
  vi.useRealTimers();
  document.body.innerHTML = '';
});

describe('RunForm', () => {
  it('fills every field from the preset, and again when another preset is chosen', async () => {
    const { wrapper } = await mountForm();
    const value = (field: string) => (wrapper.get(`[data-testid="field-${field}"]`).element as HTMLInputElement).value;
    expect(value('batch')).toBe('32');
    expect(value('crop')).toBe('32');
    expect(value('arch')).toBe('resnet18');
    expect(value('engine')).toBe('auto');
    await wrapper.get('[data-testid="field-batch"]').setValue('16');
    await wrapper.get('[data-testid="field-preset"]').setValue('paper');
    expect(value('preset')).toBe('paper');
    expect(value('arch')).toBe('resnet50');
    expect(value('batch')).toBe('256');
    expect(value('temperature')).toBe('0.3');
    expect(value('crop')).toBe('112');
  });

  it('shows an error next to a field as soon as it is typed, and disables Start', async () => {
    const { wrapper } = await mountForm();
    await settle();
    const start = wrapper.get('[data-testid="run-start"]');
    expect(start.attributes('disabled')).toBeUndefined();

    await wrapper.get('[data-testid="field-batch"]').setValue('abc');
    expect(wrapper.get('[data-testid="field-error-batch"]').text()).toContain('not a number');
    expect(wrapper.get('[data-testid="field-batch"]').attributes('aria-invalid')).toBe('true');
    expect(start.attributes('disabled')).toBeDefined();

    await wrapper.get('[data-testid="field-cross"]').setValue('0.9');
    expect(wrapper.get('[data-testid="field-error-cross"]').text()).toMatch(/at most 0.45/);
    await wrapper.get('[data-testid="field-crop"]').setValue('40');
    expect(wrapper.get('[data-testid="field-error-crop"]').text()).toContain('multiple of 32');

    await wrapper.get('[data-testid="field-batch"]').setValue('16');
    await wrapper.get('[data-testid="field-cross"]').setValue('0.3');
    await wrapper.get('[data-testid="field-crop"]').setValue('48');
    expect(wrapper.find('[data-testid^="field-error-"]').exists()).toBe(false);
    expect(wrapper.get('[data-testid="field-batch"]').attributes('aria-invalid')).toBe('false');
    expect(start.attributes('disabled')).toBeUndefined();
  });

  it('shows the basic settings and keeps the others under Advanced, which opens on an error there', async () => {
    const { wrapper } = await mountForm();
    const advanced = wrapper.get('[data-testid="run-advanced"]');
    expect(advanced.attributes('open')).toBeUndefined();
    const basics = wrapper.findAll('.run-form-main > .panel .field-grid [data-testid^="field-"]').map((field) => field.attributes('data-testid'));
    expect(basics).toEqual(['field-arch', 'field-width', 'field-batch', 'field-epochs']);
    expect(advanced.findAll('[data-testid^="field-"]').length).toBe(15);
    await advanced.get('[data-testid="field-seed"]').setValue('7');
    expect(advanced.get('summary').text()).toContain('1 changed');
    expect(advanced.attributes('open')).toBeUndefined();
    await advanced.get('[data-testid="field-crop"]').setValue('40');
    await flushPromises();
    expect(advanced.attributes('open')).toBeDefined();
    expect(advanced.get('summary').text()).toContain('1 to fix');
  });

  it('with no folder ticked says so in words and asks the app nothing about no folders', async () => {
    const { wrapper, fake } = await mountForm();
    await settle();
    await wrapper.get('[data-testid="scope-some"]').setValue(true);
    await settle();
    expect(wrapper.get('[data-testid="field-error-folders"]').text()).toBe('Tick at least one folder.');
    expect(fake.calls.filter((call) => call.name === 'pretrainEstimate').map((call) => (call.args as { folderIds?: number[] }).folderIds)).not.toContainEqual([]);
    expect(wrapper.text()).not.toContain('Invalid arguments');
    expect(wrapper.get('[data-testid="run-start"]').attributes('disabled')).toBeDefined();
  });

  it('refuses a batch larger than the images of the chosen folders', async () => {
    const { wrapper } = await mountForm();
    await wrapper.get('[data-testid="field-batch"]').setValue('64');
    expect(wrapper.find('[data-testid="field-error-batch"]').exists()).toBe(false);
    await wrapper.get('[data-testid="scope-some"]').setValue(true);
    expect(wrapper.get('[data-testid="field-error-folders"]').text()).toContain('at least one folder');
    const picks = wrapper.findAll('[data-testid="folder-pick"]');
    expect(picks).toHaveLength(2);
    await picks[0]!.setValue(true);
    expect(wrapper.get('[data-testid="field-error-batch"]').text()).toContain('only 40 were found');
    expect(wrapper.get('[data-testid="run-start"]').attributes('disabled')).toBeDefined();
  });

  it('asks the app for an estimate 300 ms after the last change and shows its errors and numbers', async () => {
    const { wrapper, fake } = await mountForm();
    const estimates = () => fake.calls.filter((call) => call.name === 'pretrainEstimate');
    expect(estimates()).toHaveLength(0);
    await settle();
    expect(estimates()).toHaveLength(1);
    const panel = wrapper.get('[data-testid="estimate"]');
    expect(panel.get('[data-testid="estimate-images"]').text()).toBe('240');
    expect(panel.get('[data-testid="estimate-steps-per-epoch"]').text()).toBe('7');
    expect(panel.get('[data-testid="estimate-total-steps"]').text()).toBe('140');
    expect(panel.get('[data-testid="estimate-memory"]').text()).toContain('321 MiB');
    expect(panel.get('[data-testid="estimate-engine"]').text()).toContain('wasm');
    expect(panel.get('[data-testid="estimate-engine-reason"]').text()).toContain('No CUDA GPU was found.');
    expect(panel.get('[data-testid="estimate-timing-note"]').text()).toBe('Not measured yet.');

    // Typing quickly asks once, for the last value.
    await wrapper.get('[data-testid="field-seed"]').setValue('1');
    await vi.advanceTimersByTimeAsync(100);
    await wrapper.get('[data-testid="field-seed"]').setValue('13');
    await settle();
    expect(estimates()).toHaveLength(2);
    expect(estimates()[1]!.args).toEqual({ preset: 'cpu-small', overrides: { seed: 13 }, measure: false });
    expect(wrapper.get('[data-testid="field-error-seed"]').text()).toBe('Seed 13 is unlucky.');
    expect(wrapper.get('[data-testid="field-seed"]').attributes('aria-invalid')).toBe('true');
    expect(wrapper.get('[data-testid="run-start"]').attributes('disabled')).toBeDefined();
  });

  it('measures the speed on demand and shows the time per epoch', async () => {
    const { wrapper, fake } = await mountForm();
    await settle();
    await wrapper.get('[data-testid="estimate-measure"]').trigger('click');
    await flushPromises();
    expect(fake.calls.at(-1)).toEqual({ name: 'pretrainEstimate', args: { preset: 'cpu-small', overrides: {}, measure: true } });
    expect(wrapper.get('[data-testid="estimate-epoch-time"]').text()).toBe('2m 05s');
    expect(wrapper.get('[data-testid="estimate-total-time"]').text()).toBe('1h 02m');
    // The figure once, with where it comes from said once (the note says "measured").
    const timingText = wrapper.get('[data-testid="estimate-timing"]').text();
    expect(timingText).toContain('0.5 s per step (measured: 3 warm-up steps on wasm took 500 ms each).');
    expect(timingText.match(/measured/gi)).toHaveLength(1);
    // Other settings: the measurement no longer applies.
    await wrapper.get('[data-testid="field-batch"]').setValue('64');
    expect(wrapper.find('[data-testid="estimate-epoch-time"]').exists()).toBe(false);
    expect(wrapper.get('[data-testid="estimate-timing-note"]').text()).toContain('measure again');
  });

  it('starts the run with only the fields that differ from the preset, then opens it', async () => {
    const { wrapper, fake, router } = await mountForm();
    await wrapper.get('[data-testid="scope-some"]').setValue(true);
    await wrapper.findAll('[data-testid="folder-pick"]')[1]!.setValue(true);
    await wrapper.get('[data-testid="field-batch"]').setValue('64');
    await wrapper.get('[data-testid="field-lr"]').setValue(' 0.05 ');
    await wrapper.get('[data-testid="field-grid"]').setValue('2');
    await wrapper.get('[data-testid="field-engine"]').setValue('cpu');
    await settle();
    await wrapper.get('[data-testid="run-start"]').trigger('click');
    await flushPromises();
    const started = fake.calls.find((call) => call.name === 'pretrainStart');
    expect(started?.args).toEqual({ folderIds: [2], preset: 'cpu-small', overrides: { batch: 64, lr: 0.05, engine: 'cpu' } });
    expect(router.currentRoute.value.fullPath).toBe('/runs/7');
  });

  it('shows a refusal of the app in a clear alert and stays on the form', async () => {
    const { wrapper, router } = await mountForm({
      pretrainStart: () => err('CONFLICT', 'Run 3 is already training: one training job runs at a time.') });
    await settle();
    await wrapper.get('[data-testid="run-start"]').trigger('click');
    await flushPromises();
    const alert = wrapper.get('[data-testid="run-start-error"]');
    expect(alert.attributes('role')).toBe('alert');
    expect(alert.text()).toContain('Another run is training.');
    expect(alert.text()).toContain('Run 3 is already training');
    expect(router.currentRoute.value.fullPath).toBe('/pretrain');
  });

  it('says when the library has no images, and keeps Start disabled', async () => {
    const { wrapper } = await mountForm({ libraryFolders: () => [] });
    expect(wrapper.get('[data-testid="field-error-folders"]').text()).toContain('no images');
    expect(wrapper.get('[data-testid="run-start"]').attributes('disabled')).toBeDefined();
  });

  it('keeps working when the estimate fails: local numbers and the error in words', async () => {
    const { wrapper } = await mountForm({ pretrainEstimate: () => err('UNKNOWN_CALL', 'pretrainEstimate is not a call') });
    await settle();
    const panel = wrapper.get('[data-testid="estimate"]');
    expect(panel.get('[data-testid="estimate-error"]').text()).toContain('pretrainEstimate is not a call');
    expect(panel.get('[data-testid="estimate-steps-per-epoch"]').text()).toBe('7');
    expect(wrapper.get('[data-testid="run-start"]').attributes('disabled')).toBeUndefined();
  });
});
