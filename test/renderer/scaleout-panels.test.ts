// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { createMemoryHistory, createRouter } from 'vue-router';
import { err } from '../../main/common/result';
import type { RunDetails, RunInfo } from '../../main/common/runs';
import type { TaskInfo } from '../../main/common/tasks';
import { useClient } from '../../renderer/src/api';
import ImportPanel from '../../renderer/src/components/runs/ImportPanel.vue';
import ScaleOutPanel from '../../renderer/src/components/runs/ScaleOutPanel.vue';
import { fakeClient } from '../helpers/fake-client';
import { runInfo } from '../helpers/run-fixtures';

/**
 * The app's side of scaling out (issue 21): a run's page exports one of its checkpoints as a
 * DDP job through `jobExport` and follows the task to the commands to run; the Runs page
 * imports a job's output (`jobImport`) or weights (`weightsImport`) and links the new run.
 */

const run: RunDetails = {
  ...runInfo(3, { name: 'Run 3 (cpu-small)', imageCount: 24, lastStep: 40, checkpointCount: 2, totalSteps: 40 }),
  metrics: [],
  metricCount: 0,
  checkpoints: [
    { step: 20, epoch: 10, kind: 'epoch', file: '/data/runs/3/checkpoints/step-00000020.safetensors', createdAt: '2026-01-01T10:03:00.000Z' },
    { step: 40, epoch: 20, kind: 'final', file: '/data/runs/3/checkpoints/step-00000040.safetensors', createdAt: '2026-01-01T10:05:00.000Z' },
  ],
  epochMetrics: [],
};

function task(patch: Partial<TaskInfo>): TaskInfo {
  return { id: 't1', kind: 'export', title: 'Exporting Run 3 as a DDP job', status: 'running', done: 0, total: 24, unit: 'images', startedAt: '2026-01-01T11:00:00.000Z', ...patch };
}

const router = () => createRouter({ history: createMemoryHistory(), routes: [{ path: '/runs/:id', component: { template: '<div />' } }, { path: '/:rest(.*)', component: { template: '<div />' } }] });

beforeEach(() => setActivePinia(createPinia()));

describe('the DDP job export on a run page', () => {
  it('exports the chosen checkpoint into the typed folder and shows the commands once the task has finished', async () => {
    const fake = fakeClient({ jobExport: () => ({ task: task({}), path: '/jobs/Run 3 (cpu-small)-step-20-ddp-job' }), tasksList: () => [] });
    useClient(fake.client);
    const wrapper = mount(ScaleOutPanel, { props: { run }, global: { plugins: [router()] } });
    const button = wrapper.get('[data-testid="scaleout-export"]');
    expect(button.attributes('disabled')).toBeDefined();
    await wrapper.get('[data-testid="scaleout-destination"]').setValue('/jobs');
    await wrapper.get('[data-testid="scaleout-step"]').setValue('20');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect(fake.calls.filter((call) => call.name === 'jobExport').at(-1)!.args).toEqual({ runId: 3, step: 20, destination: '/jobs' });
    expect(wrapper.find('[data-testid="scaleout-result"]').exists()).toBe(false);
    fake.emit('task', task({ status: 'finished', done: 24 }));
    await flushPromises();
    const result = wrapper.get('[data-testid="scaleout-result"]').text();
    expect(result).toContain('/jobs/Run 3 (cpu-small)-step-20-ddp-job');
    expect(result).toContain('python3 -m torch.distributed.run --nproc_per_node N jigclu_ddp.py --epochs 20 --out out');
  });

  it("shows the service's refusal", async () => {
    useClient(fakeClient({ jobExport: () => err('CONFLICT', '1 of 24 images of the run cannot be exported: /p/a.jpg has changed'), tasksList: () => [] }).client);
    const wrapper = mount(ScaleOutPanel, { props: { run }, global: { plugins: [router()] } });
    await wrapper.get('[data-testid="scaleout-destination"]').setValue('/jobs');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect(wrapper.get('[data-testid="scaleout-error"]').text()).toContain('/p/a.jpg has changed');
  });
});

describe('the import panel on the Runs page', () => {
  it("imports a job's output and weights, linking the new run, and shows a refusal", async () => {
    const imported: RunInfo = { ...run, id: 4, name: 'Run 4 (torch DDP x 8, from Run 3 at step 20)', engine: 'torch DDP x 8', parentRunId: 3, parentStep: 20 };
    const fake = fakeClient({
      jobImport: ({ path }: { path: string }) => (path === '/jobs/out' ? { run: imported, checkpoints: 3, metrics: 200, engine: 'torch DDP x 8' } : err('NOT_FOUND', `${path}/trainer.json is missing`)),
      weightsImport: () => ({ run: { ...imported, id: 5, name: 'Run 5 (weights from r18.safetensors)' }, source: 'torchvision', heads: 'random' }),
      runsList: () => [imported],
      pretrainState: () => null,
      backboneGet: () => null,
    });
    useClient(fake.client);
    const wrapper = mount(ImportPanel, { global: { plugins: [router()] } });
    await wrapper.get('[data-testid="import-path"]').setValue('/jobs/out');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    const result = wrapper.get('[data-testid="import-result"]');
    expect(result.text()).toContain('3 checkpoints, 200 steps trained by torch DDP x 8');
    expect(result.get('a').attributes('href')).toBe('/runs/4');
    await wrapper.get('[data-testid="import-path"]').setValue('/weights/r18.safetensors');
    await wrapper.get('[data-testid="import-weights"]').trigger('click');
    await flushPromises();
    expect(wrapper.get('[data-testid="import-result"]').text()).toContain('torchvision weights, heads at random init');
    await wrapper.get('[data-testid="import-path"]').setValue('/nowhere');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect(wrapper.get('[data-testid="import-error"]').text()).toContain('/nowhere/trainer.json is missing');
  });
});
