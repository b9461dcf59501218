import fs from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';

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
}

/** The default pixel limit: 178.9 megapixels, Pillow's decompression-bomb error threshold. */
export const defaultMaxPixels = 2 * 89_478_485;

/**
 * Fully decodes one image file to 8-bit sRGB RGB (so a truncated file fails here, not later):
 * format from content, EXIF orientation applied, grayscale/CMYK/16-bit converted, alpha
 * composited on white, first frame of animations, a pixel limit checked from the header.
 */
export async function decodeImage(file: string, options: DecodeOptions = {}): Promise<DecodedImage> {
  const maxPixels = options.maxPixels ?? defaultMaxPixels;
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (error) {
    throw new DecodeError('unreadable', `cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (stat.size === 0) throw new DecodeError('empty', 'empty file (0 bytes)');

  let metadata: Metadata;
  try {
    // No pixel limit here: the header alone is read, and we report the size ourselves.
    metadata = await sharp(file, { limitInputPixels: false, pages: 1 }).metadata();
  } catch (error) {
    const message = (error as Error).message;
    if (/unsupported image format/i.test(message)) throw new DecodeError('not-an-image', 'not an image (the content is not a known image format)');
    throw new DecodeError('corrupt', `unreadable image header: ${message}`);
  }
  const width = metadata.width ?? 0;
  const height = metadata.height ?? 0;
  if (width * height > maxPixels) {
    throw new DecodeError(
      'too-large',
      `too large: ${width}x${height} is ${(width * height / 1e6).toFixed(0)} megapixels, over the limit of ${(maxPixels / 1e6).toFixed(0)} (a possible decompression bomb); raise the pixel limit in Settings to import it`,
    );
  }
  const rotated = (metadata.orientation ?? 1) >= 5;
  const originalWidth = rotated ? height : width;
  const originalHeight = rotated ? width : height;
  if (options.minSide && Math.min(originalWidth, originalHeight) < options.minSide) {
    throw new DecodeError('too-small', `too small: ${originalWidth}x${originalHeight}, below the minimum of ${options.minSide} px on the shorter side`);
  }

  try {
    let pipeline = sharp(file, { failOn: 'error', limitInputPixels: maxPixels, pages: 1, animated: false })
      .autoOrient()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb');
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
    };
  } catch (error) {
    throw new DecodeError('corrupt', `corrupt or truncated image: ${(error as Error).message.split('\n')[0]}`);
  }
}
