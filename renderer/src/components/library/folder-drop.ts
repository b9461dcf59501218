import { ref } from 'vue';

/**
 * Dropping a folder onto the Library (desktop app): the preload gives the dropped folder's path
 * (`window.jigcluFiles`), which is then added like a picked one. A browser never tells a page
 * where a dropped file lives, so browser mode says to type the path instead.
 */
export function useFolderDrop(add: (folderPath: string) => Promise<void>, say: (text: string) => void) {
  /** True while something is dragged over the drop zone. */
  const over = ref(false);
  let depth = 0;

  function carriesFiles(event: DragEvent): boolean {
    return [...(event.dataTransfer?.types ?? [])].includes('Files');
  }

  function enter(event: DragEvent): void {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth += 1;
    over.value = true;
  }

  function overZone(event: DragEvent): void {
    if (!carriesFiles(event)) return;
    // Without this the drop would open the file in the window.
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
  }

  function leave(): void {
    depth = Math.max(0, depth - 1);
    if (depth === 0) over.value = false;
  }

  async function drop(event: DragEvent): Promise<void> {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth = 0;
    over.value = false;
    const files = [...(event.dataTransfer?.files ?? [])];
    if (files.length === 0) return;
    const bridge = window.jigcluFiles;
    if (!bridge) {
      say('Dropping a folder works in the desktop app. In browser mode, type the folder’s full path above.');
      return;
    }
    if (files.length > 1) say(`Adding the first of the ${files.length} dropped items; drop folders one at a time.`);
    let folderPath: string;
    try {
      folderPath = bridge.pathOf(files[0]!);
    } catch {
      folderPath = '';
    }
    if (!folderPath) {
      say('That drop has no folder path: drop a folder from your file manager.');
      return;
    }
    await add(folderPath);
  }

  return { over, enter, overZone, leave, drop };
}
