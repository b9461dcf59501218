import fs from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { defaultMaxPixels as libraryMaxPixels } from '../common/library';
import { looksLikeText, sniffBytes, sniffFormat } from './sniff';

/** Why a file was not decoded, as a code for programs and a reason a person understands. */
export type DecodeFailure = 'empty' | 'not-an-image' | 'unsupported' | 'corrupt' | 'too-large' | 'too-small' | 'unreadable';

/** Thrown by `decodeImage` for a file that cannot be used; `reason` names the file's problem. */
export class DecodeError extends Error {
  readonly failure: DecodeFailure;

  constructor(failure: DecodeFailure, reason: string) {
    super(reason);
    this.name = 'DecodeError';
    this.failure = failure;
  }
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this, checked from the header before decoding. */
  maxPixels?: number;
  /** Refuse images whose shorter side (after EXIF orientation) is below this. */
  minSide?: number;
  /** Resize so the shorter side is this many pixels (keeps aspect), after orientation. */
  shortSide?: number;
  /** Downscale so the shorter side is at most this many pixels; never upscales. */
  maxShortSide?: number;
}

/** 8-bit sRGB RGB pixels of one image, row-major, 3 bytes per pixel. */
export interface DecodedImage {
  data: Buffer;
  width: number;
  height: number;
  /** Format detected from the content (jpeg, png, webp, gif, tiff, ...), never the extension. */
  format: string;
  /** Size of the stored image after EXIF orientation, before any resize. */
  originalWidth: number;
  originalHeight: number;
  /** Frames in the file; only the first is used. */
  pages: number;
  /** What reading it took beyond a plain decode: "EXIF orientation 6 applied", "CMYK converted to RGB". */
  notes: string[];
}

/** The default pixel limit: 178.9 megapixels, Pillow's decompression-bomb error threshold. */
export const defaultMaxPixels = libraryMaxPixels;

/** Reads the first bytes of a file (read-only), for format detection. */
async function readHead(file: string): Promise<Buffer> {
  const handle = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(sniffBytes);
    const { bytesRead } = await handle.read(head, 0, sniffBytes, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Refuses content that is not an image format we decode, with a reason naming what it is. */
function checkFormat(head: Uint8Array): void {
  const sniffed = sniffFormat(head);
  if (!sniffed) {
    throw new DecodeError(
      'not-an-image',
      looksLikeText(head)
        ? 'not an image: the file holds text'
        : 'not an image (the content is not a known image format)',
    );
  }
  if (!sniffed.supported) {
    throw new DecodeError('unsupported', `unsupported format: ${sniffed.label} (convert it to PNG or JPEG to import it)`);
  }
}

/** True when JPEG bytes end with the End Of Image marker (FF D9), allowing trailing padding. */
function endsWithJpegEnd(bytes: Buffer): boolean {
  let end = bytes.length;
  while (end > 2 && (bytes[end - 1] === 0x00 || bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d || bytes[end - 1] === 0x20)) end -= 1;
  return bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9;
}

/** What reading the image needed beyond a plain decode, for the image's "note" (empty when nothing). */
function conversionNotes(metadata: Metadata): string[] {
  const notes: string[] = [];
  const pages = metadata.pages ?? 1;
  if (pages > 1) notes.push(`animated (${pages} frames): the first frame is used`);
  if ((metadata.orientation ?? 1) > 1) notes.push(`EXIF orientation ${metadata.orientation} applied`);
  if (metadata.depth === 'ushort') notes.push('16 bits per channel scaled to 8');
  if (metadata.space === 'cmyk') notes.push('CMYK converted to RGB');
  else if (metadata.space === 'b-w' || metadata.space === 'grey16' || metadata.channels === 1) notes.push('grayscale copied to RGB');
  if (metadata.hasAlpha) notes.push('transparency flattened onto white');
  return notes;
}

/** What the library's importer needs from a decoder; injectable so tests can count decodes. */
export type ImageDecoder = (bytes: Buffer, options: DecodeOptions) => Promise<{ width: number; height: number; format: string; notes: string[] }>;

/**
 * Fully decodes one image (a file, opened read-only, or its bytes) to 8-bit sRGB RGB, so a
 * truncated file fails here, not later: format from content (not the name), EXIF orientation
 * applied, grayscale/CMYK/16-bit converted, alpha composited on white, first frame of
 * animations, a pixel limit checked from the header before any pixel is decoded.
 */
export async function decodeImage(input: string | Buffer, options: DecodeOptions = {}): Promise<DecodedImage> {
  const maxPixels = options.maxPixels ?? defaultMaxPixels;
  let head: Buffer;
  if (typeof input === 'string') {
    let stat;
    try {
      stat = await fs.stat(input);
      head = stat.size === 0 ? Buffer.alloc(0) : await readHead(input);
    } catch (error) {
      throw new DecodeError('unreadable', `cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    if (stat.size === 0) throw new DecodeError('empty', 'empty file (0 bytes)');
  } else {
    if (input.length === 0) throw new DecodeError('empty', 'empty file (0 bytes)');
    head = input.subarray(0, sniffBytes);
  }
  checkFormat(head);

  let metadata: Metadata;
  try {
    // No pixel limit here: the header alone is read, and we report the size ourselves.
    metadata = await sharp(input, { limitInputPixels: false, pages: 1 }).metadata();
  } catch (error) {
    const message = (error as Error).message;
    if (/unsupported image format/i.test(message)) throw new DecodeError('not-an-image', 'not an image (the content is not a known image format)');
    // libvips keeps one error buffer for all threads, so with decodes running side by side its
    // message may belong to another file: the reason is ours, the same every time.
    throw new DecodeError('corrupt', 'corrupt image: its header cannot be read');
  }
  const width = metadata.width ?? 0;
  const height = metadata.height ?? 0;
  if (width * height > maxPixels) {
    throw new DecodeError(
      'too-large',
      `too large: ${width}x${height} is ${(width * height / 1e6).toFixed(0)} megapixels, over the limit of ${(maxPixels / 1e6).toFixed(0)} (a possible decompression bomb); raise the pixel limit to import it`,
    );
  }
  const rotated = (metadata.orientation ?? 1) >= 5;
  const originalWidth = rotated ? height : width;
  const originalHeight = rotated ? width : height;
  if (options.minSide && Math.min(originalWidth, originalHeight) < options.minSide) {
    throw new DecodeError('too-small', `too small: ${originalWidth}x${originalHeight}, below the minimum of ${options.minSide} px on the shorter side`);
  }

  try {
    // Only the steps this image needs (a plain 8-bit sRGB JPEG needs none), so the common case
    // costs what a bare decode costs.
    let pipeline = sharp(input, { failOn: 'error', limitInputPixels: maxPixels, pages: 1, animated: false });
    if ((metadata.orientation ?? 1) > 1) pipeline = pipeline.autoOrient();
    if (metadata.hasAlpha) pipeline = pipeline.flatten({ background: '#ffffff' });
    if (metadata.space !== 'srgb' || (metadata.depth !== undefined && metadata.depth !== 'uchar') || (metadata.channels ?? 3) < 3) {
      pipeline = pipeline.toColourspace('srgb');
    }
    const shorter = Math.min(originalWidth, originalHeight);
    const target = options.shortSide ?? (options.maxShortSide && shorter > options.maxShortSide ? options.maxShortSide : undefined);
    if (target) {
      const scale = target / shorter;
      pipeline = pipeline.resize(Math.max(1, Math.round(originalWidth * scale)), Math.max(1, Math.round(originalHeight * scale)), {
        fit: 'fill',
        kernel: 'lanczos3',
      });
    }
    const { data, info } = await pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return {
      data,
      width: info.width,
      height: info.height,
      format: metadata.format ?? 'unknown',
      originalWidth,
      originalHeight,
      pages: metadata.pages ?? 1,
      notes: conversionNotes(metadata),
    };
  } catch {
    const truncatedJpeg = metadata.format === 'jpeg' && typeof input !== 'string' && !endsWithJpegEnd(input);
    throw new DecodeError(
      'corrupt',
      truncatedJpeg
        ? 'corrupt or truncated image: the JPEG data ends before its end marker (an incomplete copy or download?)'
        : 'corrupt or truncated image: the pixel data cannot be decoded',
    );
  }
}
