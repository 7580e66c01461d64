#!/usr/bin/env node
import { errorText, main } from '../dist/cli.js';

main(process.argv).catch((err) => {
  process.stderr.write(`${errorText(err)}\n`);
  process.exit(1);
});
