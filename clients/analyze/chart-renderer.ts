import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type ChartSpec = TopLevelSpec;

/** One font for layout (vega) and rasterising (resvg), so text fits its boxes. */
const FONT_FAMILY = 'DejaVu Sans';
/** Where Debian's fonts-dejavu-core puts it; resvg also scans the system fonts. */
const FONT_FILES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
];

/** Defaults every chart shares: white background (PNGs are viewed on dark themes too), readable sizes. */
const BASE_CONFIG = {
  font: FONT_FAMILY,
  background: 'white',
  padding: 12,
  title: { fontSize: 16, subtitleFontSize: 12, anchor: 'start' as const, offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 13, grid: true, labelLimit: 280 },
  legend: { labelFontSize: 12, titleFontSize: 13, labelLimit: 360 },
};

export interface RenderedChart {
  svgPath: string;
  pngPath: string;
}

/**
 * vega-lite spec → vega → SVG (headless, no canvas) → PNG with resvg at 2×.
 * Writes `<name>.svg` and `<name>.png` into `dir`.
 */
export async function renderChart(spec: ChartSpec, dir: string, name: string): Promise<RenderedChart> {
  const withConfig = { ...spec, config: { ...BASE_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(withConfig).spec), { renderer: 'none' });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  const png = new Resvg(svg, {
    font: {
      fontFiles: FONT_FILES.filter((f) => existsSync(f)),
      loadSystemFonts: true,
      defaultFontFamily: FONT_FAMILY,
    },
    fitTo: { mode: 'zoom', value: 2 },
  })
    .render()
    .asPng();
  const svgPath = path.join(dir, `${name}.svg`);
  const pngPath = path.join(dir, `${name}.png`);
  await writeFile(svgPath, svg);
  await writeFile(pngPath, png);
  return { svgPath, pngPath };
}
