// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ClusteringInfo } from '../../main/common/embeddings';
import { err } from '../../main/common/result';
import { useClient } from '../../renderer/src/api';
import { parseK } from '../../renderer/src/stores/clusters';
import ClustersView from '../../renderer/src/views/ClustersView.vue';
import { clusteringInfo, clustersStores, flush, standardClient } from '../helpers/clusters-fixtures';

beforeEach(() => {
  setActivePinia(createPinia());
});

describe('clusters store: helpers', () => {
  it('reads k: empty is automatic, 2 to 1000 whole numbers pass, anything else says why', () => {
    expect(parseK('')).toEqual({});
    expect(parseK(' 12 ')).toEqual({ k: 12 });
    expect(parseK('1').error).toMatch(/2 to 1000/);
    expect(parseK('2.5').error).toBeDefined();
    expect(parseK('abc').error).toBeDefined();
  });
});

describe('clusters store: clustering and the cluster browser', () => {
  it('clusters with the form: automatic k when empty, a typed k, metric, seed and scope', async () => {
    const fake = standardClient({ clusterCompute: () => clusteringInfo(8) });
    useClient(fake.client);
    const { screen, clusters } = clustersStores();
    await screen.start();
    await clusters.cluster();
    expect(fake.named('clusterCompute')[0]!.args).toEqual({ setId: 1, metric: 'cosine', seed: 0 });
    clusters.kText = '3';
    clusters.metric = 'euclidean';
    clusters.seed = 5;
    screen.setScope([10]);
    await flush();
    await clusters.cluster();
    expect(fake.named('clusterCompute')[1]!.args).toEqual({
      setId: 1,
      k: 3,
      metric: 'euclidean',
      seed: 5,
      folderIds: [10] });
    expect(clusters.clustering?.id).toBe(8);
  });

  it('refuses a bad k without calling, and shows a failed clustering in words', async () => {
    const fake = standardClient({
      clusterCompute: () =>
        err('INVALID_ARGUMENT', 'k: 9 clusters need at least 9 embedded images; there are 6. Lower k.') });
    useClient(fake.client);
    const { screen, clusters } = clustersStores();
    await screen.start();
    clusters.kText = '1';
    await clusters.cluster();
    expect(fake.named('clusterCompute')).toHaveLength(0);
    expect(clusters.clusterError?.message).toMatch(/2 to 1000/);
    clusters.kText = '9';
    await clusters.cluster();
    expect(clusters.clusterError?.message).toMatch(/Lower k/);
    expect(clusters.clusterBusy).toBe(false);
  });

  it('sorts the cards by size or by purity', async () => {
    useClient(standardClient().client);
    const { screen, clusters } = clustersStores();
    await screen.start();
    expect(clusters.sortedClusters.map((c) => c.cluster)).toEqual([0, 1]);
    clusters.sortBy = 'purity';
    expect(clusters.sortedClusters.map((c) => c.cluster)).toEqual([1, 0]);
  });

  it("opens a cluster and reads its images page by page, nearest the centre first, with their tiles' names", async () => {
    const fake = standardClient();
    useClient(fake.client);
    const { screen, clusters, tiles } = clustersStores();
    await screen.start();
    clusters.openClusterDetail(0);
    await flush();
    await flush();
    expect(clusters.openClusterInfo?.size).toBe(4);
    expect(clusters.clusterTotal).toBe(4);
    expect(fake.named('clusterImages')[0]!.args).toEqual({
      clusteringId: 7,
      cluster: 0,
      offset: 0,
      limit: 200 });
    expect([0, 1, 2, 3].map((i) => clusters.clusterItemAt(i)?.imageId)).toEqual([1, 2, 3, 4]);
    expect(tiles.itemFor(1)?.relPath).toBe('class/1.png');
    // A page already there is not asked again.
    clusters.ensureClusterRange(0, 3);
    expect(fake.named('clusterImages')).toHaveLength(1);
    clusters.closeClusterDetail();
    expect(clusters.openCluster).toBeUndefined();
  });
});

describe('Clusters view', () => {
  const stubs = { RouterLink: { props: ['to'], template: '<a :href="String(to)"><slot /></a>' } };
  const settle = async () => {
    for (let i = 0; i < 6; i += 1) await flush();
  };

  it('with nothing trained, explains and links to Pretrain', async () => {
    useClient(
      standardClient({ runsList: () => [], backboneGet: () => null, embeddingSets: () => [] }).client,
    );
    const wrapper = mount(ClustersView, { global: { plugins: [createPinia()], stubs } });
    await settle();
    expect(wrapper.find('[data-testid="clusters-no-runs"]').exists()).toBe(true);
    expect(wrapper.get('[data-testid="clusters-go-pretrain"]').attributes('href')).toBe('/pretrain');
    wrapper.unmount();
  });

  it('without embeddings for the backbone, says so', async () => {
    useClient(standardClient({ embeddingSets: () => [] }).client);
    const wrapper = mount(ClustersView, { global: { plugins: [createPinia()], stubs } });
    await settle();
    expect(wrapper.find('[data-testid="clusters-no-embeddings"]').exists()).toBe(true);
    expect((wrapper.get('[data-testid="backbone-source"]').element as HTMLSelectElement).value).toBe('c:2:6');
    expect(wrapper.get('[data-testid="embed-count"]').attributes('data-embedded')).toBe('0');
    wrapper.unmount();
  });

  it('shows the scores and a card per cluster; a card opens its cluster', async () => {
    useClient(standardClient().client);
    const wrapper = mount(ClustersView, {
      global: { plugins: [createPinia()], stubs },
      attachTo: document.body });
    await settle();
    expect(wrapper.get('[data-testid="cluster-scores"]').attributes('data-k')).toBe('2');
    expect(wrapper.get('[data-testid="score-nmi"]').text()).toBe('0.5');
    expect(wrapper.get('[data-testid="score-basis"]').text()).toBe('Scored against the class folders of 40 images (2 classes).');
    const cards = wrapper.findAll('[data-testid="cluster-card"]');
    expect(cards[0]!.get('[data-testid="cluster-majority"]').text()).toBe('mostly class0 · 50% of 4');
    expect(cards.map((card) => card.attributes('data-size'))).toEqual(['4', '2']);
    await cards[1]!.trigger('click');
    await settle();
    expect(wrapper.get('[data-testid="cluster-detail"]').attributes('data-cluster')).toBe('1');
    wrapper.unmount();
  });

  it('hides scores and cluster names that rest on too few images, saying on how many', async () => {
    const fake = standardClient();
    const original = fake.handlers.clusteringLatest as () => ClusteringInfo;
    fake.handlers.clusteringLatest = () => {
      const info = original();
      return {
        ...info,
        scores: { nmi: null, ari: null, purity: null, labelled: 16, fromFolders: 0, classes: 4, minimum: 30 },
        clusters: [{ ...info.clusters[0]!, labelled: 3, majority: null, purity: null }, { ...info.clusters[1]!, labelled: 0, majority: null, purity: null }],
      };
    };
    useClient(fake.client);
    const wrapper = mount(ClustersView, { global: { plugins: [createPinia()], stubs }, attachTo: document.body });
    await settle();
    expect(wrapper.find('[data-testid="score-nmi"]').exists()).toBe(false);
    expect(wrapper.get('[data-testid="score-basis"]').text()).toContain('Scores hidden: they would rest on the labels of 16 images, under the 30');
    const names = wrapper.findAll('[data-testid="cluster-majority"]').map((entry) => entry.text());
    expect(names).toEqual(['3 with a class: too few to name it', 'no class folders or labels']);
    wrapper.unmount();
  });

  it('a failed clustering is shown in words', async () => {
    useClient(
      standardClient({
        clusteringLatest: () => null,
        clusterCompute: () => err('INTERNAL', 'the compute process ended') }).client,
    );
    const wrapper = mount(ClustersView, { global: { plugins: [createPinia()], stubs } });
    await settle();
    expect(wrapper.find('[data-testid="clusters-none"]').exists()).toBe(true);
    await wrapper.get('form').trigger('submit');
    await settle();
    expect(wrapper.get('[data-testid="cluster-error"]').text()).toBe('the compute process ended');
    wrapper.unmount();
  });
});
