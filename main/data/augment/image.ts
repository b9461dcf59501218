/**
 * The float image every transform works on, ToTensor's conversion to it, and the checks and
 * constants the transforms share.
 */

/** An RGB image, row-major, 3 interleaved channels (HWC), values in [0, 1]. */
export interface FloatImage {
  data: Float32Array;
  width: number;
  height: number;
}

export const imagenetMean: [number, number, number] = [0.485, 0.456, 0.406];
export const imagenetStd: [number, number, number] = [0.229, 0.224, 0.225];

/** ITU-R 601-2 luma weights (PIL's convert('L')), shared by grayscale and the colour ops. */
export const lumaR = 0.299;
export const lumaG = 0.587;
export const lumaB = 0.114;

/** i / 255 for every byte, as ToTensor computes it. */
const byteToFloat = new Float32Array(256);
for (let i = 0; i < 256; i++) byteToFloat[i] = i / 255;

/** Throws a RangeError unless the image is a positive size with 3 floats per pixel. */
export function checkImage(image: FloatImage): void {
  if (
    !Number.isInteger(image.width) ||
    !Number.isInteger(image.height) ||
    image.width < 1 ||
    image.height < 1
  ) {
    throw new RangeError(`image size must be positive integers, got ${image.width}x${image.height}`);
  }
  if (image.data.length !== image.width * image.height * 3) {
    throw new RangeError(
      `image data has ${image.data.length} values, expected ${image.width}x${image.height}x3`,
    );
  }
}

/** 8-bit RGB (e.g. from decodeImage) to floats in [0, 1], like ToTensor. */
export function toFloatImage(rgb: Uint8Array | Buffer, width: number, height: number): FloatImage {
  if (rgb.length !== width * height * 3)
    throw new RangeError(`expected ${width}x${height}x3 = ${width * height * 3} bytes, got ${rgb.length}`);
  const data = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) data[i] = byteToFloat[rgb[i]!]!;
  return { data, width, height };
}

/** Copies the w x h rectangle at (x0, y0), which must lie inside the image. */
export function cropRegion(image: FloatImage, x0: number, y0: number, w: number, h: number): FloatImage {
  checkImage(image);
  if (
    ![x0, y0, w, h].every(Number.isInteger) ||
    x0 < 0 ||
    y0 < 0 ||
    w < 1 ||
    h < 1 ||
    x0 + w > image.width ||
    y0 + h > image.height
  ) {
    throw new RangeError(
      `crop ${w}x${h} at (${x0}, ${y0}) is not inside the ${image.width}x${image.height} image`,
    );
  }
  const data = new Float32Array(w * h * 3);
  const rowLength = w * 3;
  for (let y = 0; y < h; y++) {
    const from = ((y0 + y) * image.width + x0) * 3;
    data.set(image.data.subarray(from, from + rowLength), y * rowLength);
  }
  return { data, width: w, height: h };
}
