// `kdgpu export`: a checkpoint as a standard ONNX model (src/interop/onnx-export.ts), for
// onnxruntime, a phone, a page. No device is needed: the layers are built host-side.

import { loadCheckpoint, saveCheckpointAtomic } from '../io/checkpoint-file.js';
import { onnxFromCheckpoint, type OnnxExportSummary } from '../interop/onnx-export.js';
import { checkRunFiles, claimRunFiles, runFiles, type RunFiles } from './preflight.js';
import { emitJson } from './bench.js';

export interface ExportCliOptions {
  checkpoint: string;
  out: string;
  overwrite?: boolean;
  /** false (--no-normalisation): the graph takes normalised images, as kdgpu's forward does. */
  normalisation: boolean;
  json?: boolean | string;
}

/** Everything checked before the checkpoint is read or a file written. */
export function checkExportOptions(o: ExportCliOptions): RunFiles {
  const files = runFiles('export', o);
  checkRunFiles(files, o);
  return files;
}

const shape = (dims: Array<number | string>) => `[${dims.join(', ')}]`;

export async function runExport(o: ExportCliOptions, out: (s: string) => void, version = ''): Promise<OnnxExportSummary> {
  const release = claimRunFiles(checkExportOptions(o), o);
  try {
    return await exportCheckpoint(o, out, version);
  } finally {
    release();
  }
}

async function exportCheckpoint(o: ExportCliOptions, out: (s: string) => void, version: string): Promise<OnnxExportSummary> {
  const ck = await loadCheckpoint(o.checkpoint);
  const { bytes, summary } = onnxFromCheckpoint(ck, o.checkpoint, { normalisationInGraph: o.normalisation, producerVersion: version });
  await saveCheckpointAtomic(o.out, bytes);
  const result = { ...summary, checkpoint: o.checkpoint, out: o.out };
  if (o.json === true) {
    emitJson(true, result, out);
    return summary;
  }
  const n = summary.normalisation;
  const input = n?.inGraph
    ? `pixels in [0, 1] (the graph normalises: mean ${n.mean.map((v) => v.toPrecision(4)).join(',')}, std ${n.std.map((v) => v.toPrecision(4)).join(',')})`
    : `normalised images${n ? ` ((pixel − mean) / std, mean ${n.mean.map((v) => v.toPrecision(4)).join(',')}, std ${n.std.map((v) => v.toPrecision(4)).join(',')}; in the metadata)` : ''}`;
  out(
    `exported ${summary.model} (${o.checkpoint}) to ${o.out}: ONNX opset ${summary.opset}, input "${summary.input.name}" ${shape(summary.input.shape)} float32 NCHW, ${input}; ` +
      `output "${summary.output.name}" ${shape(summary.output.shape)}; ${summary.nodes} nodes (${summary.operators.join(', ')}), ${summary.parameters.toLocaleString('en-US')} parameters, ${(summary.bytes / 1024).toFixed(0)} KiB`,
  );
  emitJson(o.json, result, out);
  return summary;
}
