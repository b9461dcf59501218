/** RandomHorizontalFlip's op. */
import { checkImage, type FloatImage } from './image';

/** Mirrors the image left-right. Returns a new image. */
export function horizontalFlip(image: FloatImage): FloatImage {
  checkImage(image);
  const { width, height } = image;
  const src = image.data;
  const data = new Float32Array(src.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + x * 3;
      const d = row + (width - 1 - x) * 3;
      data[d] = src[s]!;
      data[d + 1] = src[s + 1]!;
      data[d + 2] = src[s + 2]!;
    }
  }
  return { data, width, height };
}
