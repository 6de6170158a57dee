// Runs a WASI preview 1 module on Node.js's built-in WASI (`node:wasi`),
// a runtime that knows nothing of wasi:otel.
//
// Usage: node --no-warnings run-wasi.mjs MODULE.wasm [ARG]...
//
// The module sees its arguments, no environment and no files. Its exit
// code is this process's; a trap exits 134, as under wasm-otel.

import { readFile } from 'node:fs/promises';
import { argv, exit, stderr } from 'node:process';
import { WASI } from 'node:wasi';

const [path, ...args] = argv.slice(2);
if (!path) {
  stderr.write('usage: run-wasi.mjs MODULE.wasm [ARG]...\n');
  exit(2);
}

const wasi = new WASI({
  version: 'preview1',
  args: [path, ...args],
  env: {},
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(path));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
try {
  exit(wasi.start(instance));
} catch (error) {
  stderr.write(`trap: ${error.message}\n`);
  exit(134);
}
