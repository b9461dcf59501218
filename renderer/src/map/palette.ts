/**
 * Categorical colours for the embedding map: 60 colours for category values 0‥59 (value k uses
 * `paletteCss[k % 60]`), plus a neutral grey for "none" (-1).
 *
 * Every colour keeps at least 3:1 contrast (the WCAG bar for graphics) against both themes' backgrounds
 * and panels (#f6f7f9, #ffffff, #14161a, #1c1f25, #242831), so points stay readable in light and dark mode.
 * Within that luminance band the list was picked greedily in OKLab: eight familiar hues first (blue,
 * orange, green, red, purple, teal, pink, olive), then each next colour the one farthest from all earlier
 * ones and from the grey. The first colours are thus the most distinct; neighbours in the list differ most.
 */

/** The 60 category colours as `#rrggbb`. */
export const paletteCss: readonly string[] = Object.freeze([
  '#2472fd',
  '#d46b01',
  '#249e02',
  '#fd1a06',
  '#af18fb',
  '#08908c',
  '#fb01a3',
  '#9d8903',
  '#a752a1',
  '#9774f0',
  '#dc5f80',
  '#5370ac',
  '#9e6258',
  '#e929ee',
  '#567c33',
  '#1392d4',
  '#df065d',
  '#cc60ce',
  '#7453fe',
  '#cb4025',
  '#cc1ba8',
  '#a379b6',
  '#954dd2',
  '#926a0c',
  '#ac8261',
  '#719167',
  '#86678f',
  '#bd59fe',
  '#bc4a6f',
  '#617bdc',
  '#019c63',
  '#b36f84',
  '#bc39d4',
  '#fe396c',
  '#e85a48',
  '#da489e',
  '#8368bd',
  '#6b962e',
  '#5487a4',
  '#1570d1',
  '#b45c08',
  '#427c67',
  '#187b90',
  '#148922',
  '#c36956',
  '#c86aa7',
  '#7d87c3',
  '#a665cb',
  '#5b62e1',
  '#e133c4',
  '#9d50fa',
  '#dd0987',
  '#af761e',
  '#7b7b49',
  '#cc21f6',
  '#e30e2d',
  '#027fbb',
  '#6c76ff',
  '#d64556',
  '#2c88f2',
]);

/** The colour of points without a category (value -1, or any negative value). */
export const noneCss = '#878d98';

/** `#rrggbb` → [r, g, b] in 0‥1. */
export function hexToRgb(hex: string): [number, number, number] {
  const v = parseInt(hex.slice(1, 7), 16);
  return [((v >> 16) & 255) / 255, ((v >> 8) & 255) / 255, (v & 255) / 255];
}

/**
 * A CSS colour as [r, g, b] in 0‥1, for the forms theme variables take once built (minifiers shorten
 * `#ffffff` to `#fff`): #rgb, #rgba, #rrggbb, #rrggbbaa and rgb()/rgba() with commas or spaces; alpha is
 * ignored. Undefined for anything else (named colours, hsl(), …).
 */
export function parseCssColor(value: string): [number, number, number] | undefined {
  const v = value.trim().toLowerCase();
  const hex = /^#([0-9a-f]{3,8})$/.exec(v)?.[1];
  if (hex && (hex.length === 3 || hex.length === 4)) {
    return [0, 1, 2].map((i) => parseInt(hex[i]! + hex[i]!, 16) / 255) as [number, number, number];
  }
  if (hex && (hex.length === 6 || hex.length === 8)) return hexToRgb(`#${hex.slice(0, 6)}`);
  const fn = /^rgba?\(\s*([\d.]+%?)[\s,]+([\d.]+%?)[\s,]+([\d.]+%?)\s*([,/]\s*[\d.]+%?\s*)?\)$/.exec(v);
  if (!fn) return undefined;
  return [fn[1]!, fn[2]!, fn[3]!].map((c) =>
    Math.min(1, Math.max(0, c.endsWith('%') ? parseFloat(c) / 100 : parseFloat(c) / 255)),
  ) as [number, number, number];
}

/** `paletteCss` as floats, three (r, g, b in 0‥1) per colour: colour k is at 3k‥3k+2. */
export const paletteRgb: Float32Array = Float32Array.from(paletteCss.flatMap(hexToRgb));

/** `noneCss` as [r, g, b] floats in 0‥1. */
export const noneRgb: readonly [number, number, number] = Object.freeze(hexToRgb(noneCss));

/** Palette slot of a category value: k mod 60 for k ≥ 0, -1 for none (negative or not an integer). */
export function paletteIndex(category: number): number {
  if (!Number.isInteger(category) || category < 0) return -1;
  return category % paletteCss.length;
}

/** The CSS colour of a category value (grey for -1). */
export function categoryCss(category: number): string {
  const k = paletteIndex(category);
  return k < 0 ? noneCss : paletteCss[k]!;
}

/** The [r, g, b] floats (0‥1) of a category value (grey for -1). */
export function categoryRgb(category: number): [number, number, number] {
  const k = paletteIndex(category);
  if (k < 0) return [noneRgb[0], noneRgb[1], noneRgb[2]];
  return [paletteRgb[3 * k]!, paletteRgb[3 * k + 1]!, paletteRgb[3 * k + 2]!];
}
