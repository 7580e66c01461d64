// Types for scripts/serve-web.mjs (the test imports it).
import type { Server } from 'node:http';

export const DEFAULT_DATA_DIR: string;
/** The files served under /data/ (the four Fashion-MNIST IDX files the page fetches). */
export const DATA_FILES: string[];
/** The files served under /ort/ (onnxruntime-web's wasm binary, for an ONNX teacher on the page). */
export const ORT_FILES: string[];

export function serveWeb(options?: {
  port?: number;
  host?: string;
  dataDir?: string;
  /** Exact URL paths served from these files. */
  files?: Record<string, string>;
  log?: (line: string) => void;
}): Promise<{ server: Server; url: string }>;
