// Every test file (and every CLI it runs, which inherits the environment) keeps kdgpu's disk
// cache in a fresh temporary folder, never in the user's ~/.cache.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env.XDG_CACHE_HOME = mkdtempSync(join(tmpdir(), 'kdgpu-test-cache-'));
