/** RandomGrayscale's op: ITU-R 601-2 luma, PIL's convert('L'), on 3 channels. */
import { checkImage, lumaB, lumaG, lumaR, type FloatImage } from './image';

/** Grayscale in place on a dense HWC buffer of `length` floats. */
export function grayscaleInPlace(data: Float32Array, length: number): void {
  for (let i = 0; i < length; i += 3) {
    const l = lumaR * data[i]! + lumaG * data[i + 1]! + lumaB * data[i + 2]!;
    data[i] = l;
    data[i + 1] = l;
    data[i + 2] = l;
  }
}

/** ITU-R 601-2 luma (0.299 R + 0.587 G + 0.114 B) replicated to the 3 channels. */
export function grayscale(image: FloatImage): FloatImage {
  checkImage(image);
  const data = image.data.slice();
  grayscaleInPlace(data, data.length);
  return { data, width: image.width, height: image.height };
}
