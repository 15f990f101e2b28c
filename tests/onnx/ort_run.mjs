#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node, CPU) for the
// ONNX tests (tests/onnx/run.sh):
//
//   node tests/onnx/ort_run.mjs MODEL IMAGES OUT C H W
//
// IMAGES holds float32 inputs of shape (C, H, W), as many as the file
// holds (the batch); OUT receives the
// model's first output as raw float32.  Exit 77 when onnxruntime-node is
// not installed (the test is then skipped, visibly).  One thread, as
// bench/ort/ort_ref.mjs measures it, so results do not depend on the
// machine's thread count.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

const [model, imagesPath, outPath, ...shape] = process.argv.slice(2);
const dims = shape.map(Number);
if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
  process.stderr.write("usage: ort_run.mjs MODEL IMAGES OUT C H W\n");
  process.exit(2);
}
let ort;
try {
  ort = require("onnxruntime-node");
} catch (e) {
  process.stderr.write(`ort_run.mjs: no onnxruntime-node (${e.message}); ` +
    `run: cd ${HERE} && npm install --ignore-scripts onnxruntime-node\n`);
  process.exit(77);
}

const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: "sequential",
  executionProviders: ["cpu"],
});
const raw = readFileSync(imagesPath);
const xs = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
const per = dims.reduce((a, b) => a * b, 1);
const n = xs.length / per;
if (!Number.isInteger(n)) {
  process.stderr.write(`ort_run.mjs: ${imagesPath} does not hold whole ${dims.join("x")} inputs\n`);
  process.exit(1);
}
const out = await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", xs, [n, ...dims]) });
const y = out[session.outputNames[0]].data;
writeFileSync(outPath, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
console.log(`ort_run: ${model}: ${n} inputs -> ${y.length / n} outputs each ` +
  `(onnxruntime-node ${require("onnxruntime-node/package.json").version})`);
