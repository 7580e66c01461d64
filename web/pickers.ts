// The Data panel's pickers: the user's IDX files told apart by name, an image folder as paths
// below it, and the image shape and layout fields.

import { parseImageShape } from '../src/index.browser.js';
import { $ } from './dom.js';
import type { DataKind, DataOptions, DataSource } from './protocol.js';

/** The image shape and colour layout fields, for the user's own data. */
export function readDataOptions(kind: DataKind): DataOptions {
  const options: DataOptions = {};
  const shape = $<HTMLInputElement>('image-shape').value.trim();
  if (shape !== '') options.imageShape = parseImageShape(shape, 'image shape');
  const layout = $<HTMLSelectElement>('layout').value;
  if (layout === 'chw' && kind !== 'folder') options.layout = 'chw';
  return options;
}

/** The four IDX files by role, from their names (train-/t10k- or test-, images/labels or idx3|idx4/idx1). */
export function pickIdxFiles(files: File[]): DataSource | string {
  const role = (f: File) => `${/t10k|test/i.test(f.name) ? 'test' : 'train'}${/label|idx1/i.test(f.name) ? 'Labels' : 'Images'}` as const;
  const by = new Map<string, File[]>();
  for (const f of files) by.set(role(f), [...(by.get(role(f)) ?? []), f]);
  const roles = ['trainImages', 'trainLabels', 'testImages', 'testLabels'];
  const missing = roles.filter((r) => !by.has(r));
  const doubled = roles.filter((r) => (by.get(r)?.length ?? 0) > 1);
  if (missing.length || doubled.length || files.length !== 4) {
    const problem = [missing.length ? `missing: ${missing.join(', ')}` : '', doubled.length ? `more than one file for ${doubled.map((r) => `${r} (${by.get(r)!.map((f) => f.name).join(', ')})`).join(', ')}` : '']
      .filter(Boolean)
      .join('; ');
    return `pick the four IDX files, told apart by their names: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (or test-…; idx4 for [N, H, W, C] images; gzip or not); ${problem || `${files.length} files picked`}`;
  }
  const one = (r: string) => by.get(r)![0];
  return { kind: 'idx', trainImages: one('trainImages'), trainLabels: one('trainLabels'), testImages: one('testImages'), testLabels: one('testLabels') };
}

/** A directory input's files as the folder's relative paths ('train/cat/1.png'), below the folder picked. */
export function folderSource(files: File[]): DataSource | string {
  if (files.length === 0) return 'the folder picked holds no files';
  const rel = files.map((f) => (f.webkitRelativePath || f.name).split('/'));
  const root = rel[0].length > 1 ? rel[0][0] : '';
  return { kind: 'folder', root, files: files.map((file, i) => ({ file, path: (root && rel[i][0] === root ? rel[i].slice(1) : rel[i]).join('/') })) };
}
