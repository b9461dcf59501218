/**
 * Image format detection from the first bytes of a file (its "magic number"), never from its
 * name: a PNG called photo.jpg is a PNG, and a text file called image.png is not an image.
 */

/** A format recognised from content; `supported` is false where our decoder (sharp) cannot read it. */
export interface SniffedFormat {
  format: string;
  /** A name for messages: "JPEG", "HEIC", ... */
  label: string;
  supported: boolean;
}

/** How many bytes `sniffFormat` needs to decide. */
export const sniffBytes = 32;

/** Extensions of image files (lower case, with the dot). Matched case-insensitively. */
export const imageExtensions = new Set([
  '.jpg',
  '.jpeg',
  '.jpe',
  '.jfif',
  '.png',
  '.apng',
  '.gif',
  '.webp',
  '.tif',
  '.tiff',
  '.bmp',
  '.dib',
  '.avif',
  '.heic',
  '.heif',
  '.ico',
  '.jxl',
  '.psd',
]);

/** The usual extensions of each detected format, to notice (and note) a misleading name. */
const extensionsOf: Record<string, string[]> = {
  jpeg: ['.jpg', '.jpeg', '.jpe', '.jfif'],
  png: ['.png', '.apng'],
  gif: ['.gif'],
  webp: ['.webp'],
  tiff: ['.tif', '.tiff'],
  avif: ['.avif'],
  heif: ['.heic', '.heif'],
};

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

function startsWith(bytes: Uint8Array, signature: number[], offset = 0): boolean {
  if (bytes.length < offset + signature.length) return false;
  return signature.every((value, index) => bytes[offset + index] === value);
}

/** Detects the image format of `bytes` (the start of a file), or undefined when it is none we know. */
export function sniffFormat(bytes: Uint8Array): SniffedFormat | undefined {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { format: 'jpeg', label: 'JPEG', supported: true };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { format: 'png', label: 'PNG', supported: true };
  const head6 = ascii(bytes, 0, 6);
  if (head6 === 'GIF87a' || head6 === 'GIF89a') return { format: 'gif', label: 'GIF', supported: true };
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return { format: 'webp', label: 'WebP', supported: true };
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) {
    return { format: 'tiff', label: 'TIFF', supported: true };
  }
  if (ascii(bytes, 4, 4) === 'ftyp') {
    const brand = ascii(bytes, 8, 4);
    if (brand === 'avif' || brand === 'avis') return { format: 'avif', label: 'AVIF', supported: true };
    if (['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'].includes(brand)) {
      // The HEVC decoder is not part of sharp's prebuilt libvips (patents), so HEIC is refused clearly.
      return { format: 'heif', label: 'HEIC/HEIF', supported: false };
    }
  }
  if (ascii(bytes, 0, 2) === 'BM' && bytes.length >= 18) {
    const headerSize = (bytes[14] ?? 0) | ((bytes[15] ?? 0) << 8);
    if ([12, 40, 52, 56, 64, 108, 124].includes(headerSize)) return { format: 'bmp', label: 'BMP', supported: false };
  }
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0x00]) && bytes.length >= 6 && (bytes[4] ?? 0) > 0) {
    return { format: 'ico', label: 'ICO', supported: false };
  }
  if (ascii(bytes, 0, 4) === '8BPS') return { format: 'psd', label: 'Photoshop PSD', supported: false };
  if (startsWith(bytes, [0xff, 0x0a]) || (ascii(bytes, 4, 4) === 'JXL ' && startsWith(bytes, [0, 0, 0, 0x0c]))) {
    return { format: 'jxl', label: 'JPEG XL', supported: false };
  }
  return undefined;
}

/** True when `bytes` look like text (printable ASCII or UTF-8, tabs and newlines), for a clearer reason. */
export function looksLikeText(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return false;
  for (const byte of bytes) {
    if (byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
    if (byte < 0x20 || byte === 0x7f) return false;
  }
  try {
    // Valid UTF-8 (a character cut at the end of the sample is fine: stream mode keeps it pending).
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** True when a file name has an image extension (case-insensitive: .JPEG counts). */
export function hasImageExtension(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && imageExtensions.has(name.slice(dot).toLowerCase());
}

/** True when the name's extension is one of the detected format's usual ones (or it has none we know). */
export function extensionMatches(name: string, format: string): boolean {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return true;
  const extension = name.slice(dot).toLowerCase();
  if (!imageExtensions.has(extension)) return true;
  return (extensionsOf[format] ?? []).includes(extension);
}
