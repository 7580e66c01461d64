// CIFAR-10 / CIFAR-100 binary-version reader, pure: bytes in, Dataset out.
//
// Each file is a run of fixed-size records with no header. A CIFAR-10 record is 1 label byte and
// 3072 pixel bytes; a CIFAR-100 record is 1 coarse-label byte (20 superclasses), 1 fine-label byte
// (100 classes) and 3072 pixel bytes. The pixels are already planar: 1024 red, 1024 green, 1024
// blue, each 32x32 row-major, i.e. exactly the CHW layout the engine wants.

import { FormatError } from '../util/format-error.js';
import type { Dataset } from './dataset.js';

export type CifarVariant = 'cifar-10' | 'cifar-100-fine' | 'cifar-100-coarse';

export const CIFAR_PIXELS = 3 * 32 * 32;

export const CIFAR10_FILES = {
  train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
  test: ['test_batch.bin'],
} as const;

/** CIFAR-10's class names, by label (batches.meta.txt). */
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

export const CIFAR100_FILES = { train: ['train.bin'], test: ['test.bin'] } as const;

interface RecordLayout {
  labelBytes: number;
  /** Which of the label bytes is the label. */
  labelIndex: number;
  numClasses: number;
  describe: string;
}

const LAYOUTS: Record<CifarVariant, RecordLayout> = {
  'cifar-10': { labelBytes: 1, labelIndex: 0, numClasses: 10, describe: 'CIFAR-10 record (1 label byte + 3072 pixel bytes)' },
  'cifar-100-coarse': {
    labelBytes: 2, labelIndex: 0, numClasses: 20,
    describe: 'CIFAR-100 record (1 coarse-label byte + 1 fine-label byte + 3072 pixel bytes)',
  },
  'cifar-100-fine': {
    labelBytes: 2, labelIndex: 1, numClasses: 100,
    describe: 'CIFAR-100 record (1 coarse-label byte + 1 fine-label byte + 3072 pixel bytes)',
  },
};

export function cifarRecordBytes(variant: CifarVariant): number {
  return LAYOUTS[variant].labelBytes + CIFAR_PIXELS;
}

export interface CifarFile {
  fileName: string;
  bytes: Uint8Array;
}

/** Concatenates the records of the given files, in order, into one dataset of bytes (b means b/255). */
export function cifarDataset(variant: CifarVariant, files: readonly CifarFile[], name: string): Dataset {
  const layout = LAYOUTS[variant];
  const record = cifarRecordBytes(variant);
  let n = 0;
  for (const f of files) n += countRecords(f, record, layout);
  const images = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Uint32Array(n);
  let i = 0;
  for (const f of files) {
    const records = f.bytes.length / record;
    for (let r = 0; r < records; r++, i++) {
      const at = r * record;
      const y = f.bytes[at + layout.labelIndex];
      if (y >= layout.numClasses) {
        const which = variant === 'cifar-100-coarse' ? 'coarse label' : variant === 'cifar-100-fine' ? 'fine label' : 'label';
        throw new FormatError(f.fileName, `${which} of record ${r}`, `expected a class in [0, ${layout.numClasses}), found ${y}`);
      }
      labels[i] = y;
      const px = at + layout.labelBytes;
      const out = i * CIFAR_PIXELS;
      images.set(f.bytes.subarray(px, px + CIFAR_PIXELS), out);
    }
  }
  const ds: Dataset = { images, labels, n, channels: 3, height: 32, width: 32, numClasses: layout.numClasses, name };
  if (variant === 'cifar-10') ds.classNames = [...CIFAR10_CLASSES];
  return ds;
}

function countRecords(f: CifarFile, record: number, layout: RecordLayout): number {
  const size = f.bytes.length;
  if (size === 0) {
    throw new FormatError(f.fileName, 'file size', `expected at least one ${record}-byte ${layout.describe}, found an empty file`);
  }
  if (size % record !== 0) {
    throw new FormatError(
      f.fileName,
      'file size',
      `expected a multiple of the ${record}-byte ${layout.describe}, found ${size} bytes ` +
        `(${Math.floor(size / record)} whole records and ${size % record} bytes over)`,
    );
  }
  return size / record;
}
