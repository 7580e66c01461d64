// Types for scripts/serve-web.mjs (the test imports it).
import type { Server } from 'node:http';

export const DEFAULT_DATA_DIR: string;

export function serveWeb(options?: {
  port?: number;
  host?: string;
  dataDir?: string;
  /** Exact URL paths served from these files. */
  files?: Record<string, string>;
  log?: (line: string) => void;
}): Promise<{ server: Server; url: string }>;
