// A small labeled image set for transfer-learning demonstrations and tests: stripes (any angle and period),
// discs (one to three, any size and place) and checkerboards (any cell size and offset), in random colours
// with noise, written as PNG files under <dir>/<class>/<n>.png. Seeded, so a run is reproducible. The
// variation in position, phase and colour is what makes raw pixels a poor representation here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { seededRandom } from '../../core/util/seeded-random.ts';

export const SHAPE_CLASSES = ['stripes', 'discs', 'checkerboard'] as const;
export type ShapeClass = (typeof SHAPE_CLASSES)[number];

/** Two colours whose brightness differs by at least 80 (of 255), so the pattern is visible. */
function colours(r: () => number): [number[], number[]] {
  for (;;) {
    const a = [0, 1, 2].map(() => Math.floor(r() * 256));
    const b = [0, 1, 2].map(() => Math.floor(r() * 256));
    const lum = (c: number[]) => 0.299 * c[0]! + 0.587 * c[1]! + 0.114 * c[2]!;
    if (Math.abs(lum(a) - lum(b)) >= 80) return [a, b];
  }
}

/** One size × size RGBA image of `kind`. */
export function shapeImage(kind: ShapeClass, size: number, r: () => number): Uint8Array {
  const [bg, fg] = colours(r);
  let inside: (x: number, y: number) => boolean;
  if (kind === 'stripes') {
    const angle = r() * Math.PI;
    const period = size * (0.1 + r() * 0.15);
    const phase = r();
    const [c, s] = [Math.cos(angle), Math.sin(angle)];
    inside = (x, y) => (((x * c + y * s) / period + phase) % 1 + 1) % 1 < 0.5;
  } else if (kind === 'discs') {
    const discs = Array.from({ length: 1 + Math.floor(r() * 3) }, () => {
      const radius = size * (0.1 + r() * 0.2);
      return { x: radius + r() * (size - 2 * radius), y: radius + r() * (size - 2 * radius), r2: radius * radius };
    });
    inside = (x, y) => discs.some((d) => (x - d.x) ** 2 + (y - d.y) ** 2 <= d.r2);
  } else {
    const cell = size * (0.07 + r() * 0.12);
    const [ox, oy] = [r() * cell * 2, r() * cell * 2];
    inside = (x, y) => (Math.floor((x + ox) / cell) + Math.floor((y + oy) / cell)) % 2 === 0;
  }
  const rgba = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const colour = inside(x + 0.5, y + 0.5) ? fg : bg;
      const p = (y * size + x) * 4;
      for (let ch = 0; ch < 3; ch++) rgba[p + ch] = Math.max(0, Math.min(255, Math.round(colour[ch]! + (r() - 0.5) * 40)));
      rgba[p + 3] = 255;
    }
  }
  return rgba;
}

export interface LabeledFile {
  readonly path: string;
  readonly label: number;
  readonly kind: ShapeClass;
}

/** Writes `perClass` PNGs of each class under dir/<class>/, and returns their paths and labels (class index). */
export function writeShapeImages(dir: string, options: { perClass: number; size: number; seed: number }): LabeledFile[] {
  const r = seededRandom(options.seed);
  const out: LabeledFile[] = [];
  SHAPE_CLASSES.forEach((kind, label) => {
    const classDir = path.join(dir, kind);
    fs.mkdirSync(classDir, { recursive: true });
    for (let i = 0; i < options.perClass; i++) {
      const png = new PNG({ width: options.size, height: options.size });
      png.data.set(shapeImage(kind, options.size, r));
      const file = path.join(classDir, `${String(i).padStart(3, '0')}.png`);
      fs.writeFileSync(file, PNG.sync.write(png));
      out.push({ path: file, label, kind });
    }
  });
  return out;
}
