/** The Label screen's keyboard: which key press asks for what. No DOM beyond reading the event. */

/** True when a key event comes from somewhere the user types (keys must not label then). */
export function isTypingTarget(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  if (!element || typeof element.tagName !== 'string') return false;
  const tag = element.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select') return true;
  if (tag === 'input') {
    const type = (element as HTMLInputElement).type;
    return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color'].includes(type);
  }
  return element.isContentEditable === true;
}

/** What a key press asks of the Label screen (undefined: not ours). */
export type KeyAction =
  | { kind: 'class'; number: number }
  | { kind: 'remove' }
  | { kind: 'move'; delta: number; extend: boolean }
  | { kind: 'picker' }
  | { kind: 'undo' }
  | { kind: 'redo' }
  | { kind: 'clear' };

/** Maps a key press to an action; `columns` is how far up/down moves in the grid. */
export function keyAction(
  event: Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'shiftKey' | 'altKey' | 'target'>,
  columns = 1,
): KeyAction | undefined {
  if (isTypingTarget(event.target)) return undefined;
  const mod = event.ctrlKey || event.metaKey;
  const key = event.key;
  if (mod && !event.altKey) {
    const lower = key.toLowerCase();
    if (lower === 'z') return event.shiftKey ? { kind: 'redo' } : { kind: 'undo' };
    if (lower === 'y') return { kind: 'redo' };
    return undefined;
  }
  if (event.altKey) return undefined;
  if (/^[1-9]$/.test(key)) return { kind: 'class', number: Number(key) };
  if (key === '0' || key === 'Backspace' || key === 'Delete') return { kind: 'remove' };
  if (key === '/') return { kind: 'picker' };
  if (key === 'Escape') return { kind: 'clear' };
  const extend = event.shiftKey;
  if (key === 'ArrowRight') return { kind: 'move', delta: 1, extend };
  if (key === 'ArrowLeft') return { kind: 'move', delta: -1, extend };
  if (key === 'ArrowDown') return { kind: 'move', delta: Math.max(1, columns), extend };
  if (key === 'ArrowUp') return { kind: 'move', delta: -Math.max(1, columns), extend };
  return undefined;
}
