import { nextTick, watch, type Ref, type WatchSource } from 'vue';

/**
 * Brings an element into view when something a person asked for appears in it (the welcome
 * screen's results, an open confusion cell's images, the review card): the least scrolling that
 * shows it, never a jump when it is already in view.
 */
export function revealWhen(element: Ref<HTMLElement | undefined | null>, shown: WatchSource<unknown>): void {
  watch(shown, async (value) => {
    if (!value) return;
    await nextTick();
    element.value?.scrollIntoView?.({ block: 'nearest', behavior: 'smooth' });
  });
}
