/**
 * Every keyboard shortcut of the app, by screen, for the shortcut sheet (`?`). The screens'
 * own key handlers are the truth; this list says what they do, and a test checks that the
 * label keys it lists are the ones keyAction answers.
 */

/** One shortcut: the keys (each shown as a key cap) and what they do. */
export interface Shortcut {
  keys: string[];
  does: string;
}

/** The shortcuts of one screen or part of the app. */
export interface ShortcutGroup {
  /** The route name it belongs to ('' = everywhere). */
  route: string;
  title: string;
  items: Shortcut[];
}

export const shortcutGroups: readonly ShortcutGroup[] = [
  {
    route: '',
    title: 'Everywhere',
    items: [
      { keys: ['?'], does: 'Open or close this list of shortcuts' },
      { keys: ['Esc'], does: 'Close a dialog, the image view or this list' },
    ],
  },
  {
    route: 'label',
    title: 'Label',
    items: [
      { keys: ['1', '…', '9'], does: 'Label the image (or the selection) with the class of that key, and move on' },
      { keys: ['/'], does: 'Find any class by name, also those without a key' },
      { keys: ['0'], does: 'Remove the hand label (also Backspace or Delete)' },
      { keys: ['←', '→', '↑', '↓'], does: 'Move to another image' },
      { keys: ['Shift', 'arrows'], does: 'Grow the selection (also Shift-click; Ctrl-click adds one image)' },
      { keys: ['Ctrl', 'Z'], does: 'Undo the last label change' },
      { keys: ['Ctrl', 'Shift', 'Z'], does: 'Redo (also Ctrl+Y)' },
      { keys: ['Esc'], does: 'Clear the selection' },
    ],
  },
  {
    route: 'finetune',
    title: 'Fine-tune: review queue',
    items: [
      { keys: ['Enter'], does: 'Accept the prediction as the hand label' },
      { keys: ['1', '…', '9'], does: 'Correct it to the class of that key' },
      { keys: ['Space'], does: 'Skip the image (also → or ↓)' },
      { keys: ['Ctrl', 'Z'], does: 'Undo the last label' },
    ],
  },
  {
    route: 'clusters',
    title: 'Clusters: embedding map',
    items: [
      { keys: ['Shift', 'drag'], does: 'Draw a lasso to select points' },
      { keys: ['+', '−'], does: 'Zoom in and out' },
      { keys: ['←', '→', '↑', '↓'], does: 'Pan the map' },
      { keys: ['Esc'], does: 'Cancel a lasso, or clear the selection' },
    ],
  },
  {
    route: 'library',
    title: 'Library: image view',
    items: [
      { keys: ['←', '→'], does: 'Previous or next image' },
      { keys: ['Esc'], does: 'Close the image view' },
    ],
  },
];

/** True when the key press asks for the shortcut sheet (not while typing in a field). */
export function isSheetKey(event: Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey'>): boolean {
  return event.key === '?' && !event.ctrlKey && !event.metaKey && !event.altKey;
}
