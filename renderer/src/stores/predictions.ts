import { defineStore } from 'pinia';
import { ref, watch } from 'vue';
import type { CallArgs } from '../../../main/common/api-contract';
import type { PredictionItem } from '../../../main/common/finetune';
import { ok } from '../../../main/common/result';
import { api } from '../api';
import { useCall } from '../composables/use-call';
import { predictionsPageSize, useFinetuneStore } from './finetune';

/**
 * The prediction gallery of the Fine-tune screen: the viewed classifier's predictions, filtered by class
 * and confidence, a page at a time. Once read, it reads again when the classifier looked at changes or a
 * new round finishes (the fine-tune store's `viewedId` and `outcome`).
 */
export const usePredictionsStore = defineStore('predictions', () => {
  const predictionClassId = ref<number>();
  /** Confidence range in percent (0..100). */
  const minConfidence = ref(0);
  const maxConfidence = ref(100);
  const predictionOrder = ref<'confidence-asc' | 'confidence-desc'>('confidence-desc');
  const predictions = ref<PredictionItem[]>([]);
  const predictionsTotal = ref(0);
  /** A page of predictions; `more` pages add to the gallery, others replace it (the newest asked wins). */
  const pageCall = useCall(
    async (args: CallArgs<'predictionsPage'>, more: boolean) => {
      const result = await api().call('predictionsPage', args);
      return result.ok ? ok({ ...result.value, more }) : result;
    },
    {
      overlap: 'latest',
      onValue: (page) => {
        predictions.value = page.more ? [...predictions.value, ...page.items] : page.items;
        predictionsTotal.value = page.total;
      },
    },
  );
  const { busy: predictionsLoading, error: predictionsError } = pageCall;
  let following = false;

  /** Reads again when the fine-tune store looks at another classifier or finishes a round. */
  function follow(): void {
    if (following) return;
    following = true;
    const finetune = useFinetuneStore();
    watch([() => finetune.viewedId, () => finetune.outcome], () => void loadPredictions());
  }

  function predictionFilter(): CallArgs<'predictionsPage'> {
    const args: CallArgs<'predictionsPage'> = { order: predictionOrder.value, limit: predictionsPageSize };
    const viewedId = useFinetuneStore().viewedId;
    if (viewedId !== undefined) args.classifierId = viewedId;
    if (predictionClassId.value !== undefined) args.classId = predictionClassId.value;
    const lo = Math.min(minConfidence.value, maxConfidence.value);
    const hi = Math.max(minConfidence.value, maxConfidence.value);
    if (lo > 0) args.minConfidence = Math.min(1, lo / 100);
    if (hi < 100) args.maxConfidence = Math.max(0, hi / 100);
    return args;
  }

  /** Reads the first page of predictions for the current filter (`more`: the next page). */
  async function loadPredictions(more = false): Promise<void> {
    follow();
    if (useFinetuneStore().classifiers.length === 0) return;
    const offset = more ? predictions.value.length : 0;
    await pageCall.run({ ...predictionFilter(), offset }, more);
  }

  function setPredictionFilter(patch: {
    classId?: number | null;
    min?: number;
    max?: number;
    order?: 'confidence-asc' | 'confidence-desc';
  }): void {
    if (patch.classId !== undefined) predictionClassId.value = patch.classId ?? undefined;
    if (patch.min !== undefined && Number.isFinite(patch.min))
      minConfidence.value = Math.min(100, Math.max(0, patch.min));
    if (patch.max !== undefined && Number.isFinite(patch.max))
      maxConfidence.value = Math.min(100, Math.max(0, patch.max));
    if (patch.order) predictionOrder.value = patch.order;
    void loadPredictions();
  }

  return {
    predictionClassId,
    minConfidence,
    maxConfidence,
    predictionOrder,
    predictions,
    predictionsTotal,
    predictionsLoading,
    predictionsError,
    loadPredictions,
    setPredictionFilter,
  };
});
