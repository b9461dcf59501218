// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useFolderDrop } from '../../renderer/src/components/library/folder-drop';

/** A drag event carrying files, as a file manager sends it. */
function dragEvent(files: { name: string }[], types = ['Files']): DragEvent {
  return {
    dataTransfer: { types, files, dropEffect: 'none' },
    preventDefault: vi.fn(),
  } as unknown as DragEvent;
}

afterEach(() => {
  delete window.jigcluFiles;
});

describe('dropping a folder on the Library', () => {
  it('adds the dropped folder by the path the desktop app gives, and shows the drop zone meanwhile', async () => {
    window.jigcluFiles = { pathOf: (file) => `/home/me/${(file as { name: string }).name}` };
    const added: string[] = [];
    const said: string[] = [];
    const drop = useFolderDrop(async (path) => void added.push(path), (text) => said.push(text));
    const enter = dragEvent([{ name: 'Pictures' }]);
    drop.enter(enter);
    expect(drop.over.value).toBe(true);
    const over = dragEvent([{ name: 'Pictures' }]);
    drop.overZone(over);
    // The window must not open the file itself.
    expect(over.preventDefault).toHaveBeenCalled();
    expect(over.dataTransfer!.dropEffect).toBe('copy');
    const dropped = dragEvent([{ name: 'Pictures' }]);
    await drop.drop(dropped);
    expect(dropped.preventDefault).toHaveBeenCalled();
    expect(drop.over.value).toBe(false);
    expect(added).toEqual(['/home/me/Pictures']);
    expect(said).toEqual([]);
  });

  it('in browser mode says to type the path; ignores drags without files', async () => {
    const added: string[] = [];
    const said: string[] = [];
    const drop = useFolderDrop(async (path) => void added.push(path), (text) => said.push(text));
    const text = dragEvent([], ['text/plain']);
    drop.enter(text);
    expect(drop.over.value).toBe(false);
    expect(text.preventDefault).not.toHaveBeenCalled();
    await drop.drop(dragEvent([{ name: 'Pictures' }]));
    expect(added).toEqual([]);
    expect(said).toEqual(['Dropping a folder works in the desktop app. In browser mode, type the folder’s full path above.']);
  });

  it('says what it does with several items, and when a drop has no path', async () => {
    const added: string[] = [];
    const said: string[] = [];
    window.jigcluFiles = { pathOf: (file) => ((file as { name: string }).name === 'x' ? '' : `/d/${(file as { name: string }).name}`) };
    const drop = useFolderDrop(async (path) => void added.push(path), (text) => said.push(text));
    await drop.drop(dragEvent([{ name: 'a' }, { name: 'b' }]));
    expect(added).toEqual(['/d/a']);
    expect(said).toEqual(['Adding the first of the 2 dropped items; drop folders one at a time.']);
    await drop.drop(dragEvent([{ name: 'x' }]));
    expect(added).toEqual(['/d/a']);
    expect(said.at(-1)).toBe('That drop has no folder path: drop a folder from your file manager.');
  });
});
