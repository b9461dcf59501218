import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import type { CallArgs } from '../../../main/common/api-contract';
import type { AppError } from '../../../main/common/result';
import { api } from '../api';
import { classOfKey } from '../classes';
import { useAction } from '../composables/use-call';
import { reviewPageSize, reviewRefillAt, useFinetuneStore, type ReviewItem } from './finetune';

/**
 * The review queue of the Fine-tune screen: the chosen classifier's least sure predictions of unlabelled
 * images, accepted, corrected or skipped one at a time with undo. Once started, it starts again when a
 * new round finishes or another classifier is chosen (the fine-tune store's `outcome`).
 */
export const useReviewStore = defineStore('review', () => {
  const queue = ref<ReviewItem[]>([]);
  const position = ref(0);
  const queueTotal = ref(0);
  const queueLoading = ref(false);
  const queueLoaded = ref(false);
  /** Labelling and undoing, one at a time; its error is also where a failed queue read is told. */
  const reviewCall = useAction((action: () => Promise<AppError | undefined>) => action());
  const { busy: reviewBusy, error: reviewError } = reviewCall;
  const reviewed = ref(0);
  const skipped = ref(0);
  /** Labels given in this session, newest last: what Ctrl+Z takes back. */
  const history = ref<{ index: number; imageId: number; classId: number }[]>([]);

  const current = computed<ReviewItem | undefined>(() => queue.value[position.value]);
  const upcoming = computed(() => queue.value.slice(position.value + 1, position.value + 7));
  const reviewLeft = computed(() => Math.max(0, queueTotal.value - reviewed.value));

  /** The colour of a class: its own, else the palette by its place among the classes. */

  let queueGeneration = 0;
  let following = false;

  /** Starts again when the fine-tune store finishes a round or chooses another classifier. */
  function follow(): void {
    if (following) return;
    following = true;
    watch(
      () => useFinetuneStore().outcome,
      () => void resetQueue(),
    );
  }

  /** Starts the queue again from the least confident unlabelled image. */
  async function resetQueue(): Promise<void> {
    follow();
    queueGeneration += 1;
    queue.value = [];
    position.value = 0;
    queueTotal.value = 0;
    queueLoaded.value = false;
    history.value = [];
    reviewError.value = undefined;
    await fillQueue();
  }

  /** Reads the next page of the queue (labelled images leave it, so the offset counts only the rest). */
  async function fillQueue(): Promise<void> {
    const finetune = useFinetuneStore();
    if (queueLoading.value || finetune.classifiers.length === 0) return;
    const asked = queueGeneration;
    const labelledHere = queue.value.filter((item) => item.labelledAs !== undefined).length;
    const args: CallArgs<'predictionsPage'> = {
      unlabelledOnly: true,
      order: 'review',
      offset: Math.max(0, queue.value.length - labelledHere),
      limit: reviewPageSize,
    };
    if (finetune.selectedId !== undefined) args.classifierId = finetune.selectedId;
    queueLoading.value = true;
    const result = await api().call('predictionsPage', args);
    queueLoading.value = false;
    if (asked !== queueGeneration) return;
    queueLoaded.value = true;
    if (!result.ok) {
      reviewError.value = result.error;
      return;
    }
    const known = new Set(queue.value.map((item) => item.imageId));
    queue.value = [...queue.value, ...result.value.items.filter((item) => !known.has(item.imageId))];
    queueTotal.value = Math.max(result.value.total + labelledHere, queue.value.length);
  }

  function advance(): void {
    position.value = Math.min(position.value + 1, queue.value.length);
    if (queue.value.length - position.value < reviewRefillAt && queue.value.length < queueTotal.value)
      void fillQueue();
  }

  /** Labels the current image: with its prediction (accept) or with `classId` (correct). */
  async function label(classId?: number): Promise<AppError | undefined> {
    const item = current.value;
    if (!item || reviewBusy.value) return undefined;
    const given = classId ?? item.classId;
    return reviewCall.run(async () => {
      const result = await api().call('labelSet', { imageIds: [item.imageId], classId: given });
      if (!result.ok) return result.error;
      const index = queue.value.indexOf(item);
      if (index >= 0) queue.value.splice(index, 1, { ...item, labelledAs: given });
      history.value = [
        ...history.value,
        { index: index >= 0 ? index : position.value, imageId: item.imageId, classId: given },
      ];
      reviewed.value += 1;
      advance();
      return undefined;
    });
  }

  const accept = () => label();

  /** Corrects the current image to the class with number key n (the keys of the Label screen). */
  async function correct(n: number): Promise<AppError | undefined> {
    const info = classOfKey(useFinetuneStore().classes, n);
    if (!info) return undefined;
    return label(info.id);
  }

  function skip(): void {
    if (!current.value) return;
    skipped.value += 1;
    advance();
  }

  /** Takes back the last label (labelUndo) and shows that image again. */
  async function undo(): Promise<AppError | undefined> {
    if (reviewBusy.value) return undefined;
    return reviewCall.run(async () => {
      const result = await api().call('labelUndo', {});
      if (!result.ok) return result.error;
      const last = history.value[history.value.length - 1];
      if (last && result.value.imageIds.includes(last.imageId)) {
        history.value = history.value.slice(0, -1);
        const index = queue.value.findIndex((item) => item.imageId === last.imageId);
        if (index >= 0) {
          const { labelledAs: _given, ...item } = queue.value[index]!;
          queue.value.splice(index, 1, item);
          position.value = index;
        }
        reviewed.value = Math.max(0, reviewed.value - 1);
      }
      return undefined;
    });
  }

  return {
    queue,
    position,
    queueTotal,
    queueLoading,
    queueLoaded,
    reviewError,
    reviewed,
    skipped,
    reviewBusy,
    history,
    current,
    upcoming,
    reviewLeft,
    resetQueue,
    fillQueue,
    label,
    accept,
    correct,
    skip,
    undo,
  };
});
