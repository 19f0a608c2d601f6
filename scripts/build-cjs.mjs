// Emits the CommonJS entry point. Node >= 20.19 can require() ES modules
// without top-level await, so the CJS entry re-exports the ESM build.
import { mkdirSync, writeFileSync } from 'node:fs';
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/index.cjs', "'use strict';\nmodule.exports = require('../esm/src/index.js');\n");
