import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router';
import ClustersView from './views/ClustersView.vue';
import FinetuneView from './views/FinetuneView.vue';
import LabelView from './views/LabelView.vue';
import LibraryView from './views/LibraryView.vue';
import PretrainView from './views/PretrainView.vue';
import RunsView from './views/RunsView.vue';
import RunView from './views/RunView.vue';
import SettingsView from './views/SettingsView.vue';
import WelcomeView from './views/WelcomeView.vue';
import { api } from './api';

/** The left navigation, in the order a user works: data, pretrain, inspect, label, fine-tune. */
export const navigation = [
  {
    path: '/library',
    name: 'library',
    title: 'Library',
    icon: '▦',
    summary: 'Add folders of your images; every bad file is reported and skipped, your folders are never written to.',
  },
  {
    path: '/pretrain',
    name: 'pretrain',
    title: 'Pretrain',
    icon: '◩',
    summary: 'Pretrain a backbone with Jigsaw Clustering, watch the losses and the montages it trains on.',
  },
  {
    path: '/clusters',
    name: 'clusters',
    title: 'Clusters',
    icon: '◍',
    summary: 'See the clusters and the embedding map the backbone finds; find similar images.',
  },
  {
    path: '/label',
    name: 'label',
    title: 'Label',
    icon: '◈',
    summary: 'Label a few images with the keyboard, a whole cluster or a lasso selection at once.',
  },
  {
    path: '/finetune',
    name: 'finetune',
    title: 'Fine-tune',
    icon: '◎',
    summary: 'Train a classifier from your few labels in one click and review its predictions.',
  },
  {
    path: '/runs',
    name: 'runs',
    title: 'Runs',
    icon: '☰',
    summary: 'Every training run with its settings, curves and checkpoints.',
  },
] as const;

const routes: RouteRecordRaw[] = [
  {
    // A fresh install (no folder, no run) opens on the welcome screen; otherwise the library.
    // Only the start page redirects: every other address opens as before.
    path: '/',
    component: LibraryView,
    beforeEnter: async () => {
      const result = await api().call('firstRunInfo', {});
      return result.ok && result.value.fresh ? '/welcome' : '/library';
    },
  },
  { path: '/welcome', name: 'welcome', component: WelcomeView },
  { path: '/library', name: 'library', component: LibraryView },
  { path: '/pretrain', name: 'pretrain', component: PretrainView },
  { path: '/clusters', name: 'clusters', component: ClustersView },
  { path: '/label', name: 'label', component: LabelView },
  { path: '/finetune', name: 'finetune', component: FinetuneView },
  {
    // One parent, so the Runs navigation link stays highlighted on a run's page.
    path: '/runs',
    children: [
      { path: '', name: 'runs', component: RunsView },
      { path: ':id', name: 'run', component: RunView, props: true },
    ],
  },
  { path: '/settings', name: 'settings', component: SettingsView },
  { path: '/:pathMatch(.*)*', redirect: '/library' },
];

/** Hash history: works from app:// in Electron and from the browser host alike. */
export function createAppRouter() {
  return createRouter({ history: createWebHashHistory(), routes });
}
