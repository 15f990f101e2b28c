#!/usr/bin/env node
// ONNX Runtime reference for cnn-bench: inference only, the networks W1, W2,
// W3 of bench/pytorch_ref.py exported to ONNX by bench/export_onnx.py, the
// same data, batch sizes, thread counts, timing, table and JSON keys, so
// bench/compare can pair its rows with cnn-bench's (variant "onnxruntime").
//
//   cd bench/ort && npm install --ignore-scripts   # once; CPU runtime only
//   /usr/bin/python3 bench/export_onnx.py          # once: build-ort/models/*.onnx
//   node bench/ort/ort_ref.mjs --quick [--models build-ort/models]
//
// Options as pytorch_ref.py where they apply: --quick, --nets, --threads,
// --reps, --seconds, --warmup, --infer-batches, --phases, --data, --synthetic,
// --images, --json; plus --models DIR.  --modes, --train-batches and
// --peak-n are accepted and ignored (so bench/compare can pass the same
// options to every tool); there is no training phase and no sgemm peak.
//
// Fairness notes (also in docs/performance.md):
// - Threads: intraOpNumThreads = t, interOpNumThreads = 1, sequential
//   execution, graph optimizations "all".  ORT's pool spins while waiting
//   (its default), as libcnn's does.
// - Data: as pytorch_ref.py, the images are converted to float (/256) once
//   up front; each step wraps a slice of that array in a tensor (no copy).
// - Each step is one session.run() plus the argmax of the (batch, 10)
//   logits.  onnxruntime-node's run() is synchronous native code deferred by
//   one setImmediate and wrapped in a Promise: that overhead (a few µs) is
//   part of what a Node user pays and is included.
import { readFileSync, existsSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import process from "node:process";
import { createRequire } from "node:module";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..");
const require = createRequire(import.meta.url);

// Per-image GEMM FLOPs, as bench/nets.c and pytorch_ref.py.
const LAYERS = {
  W1: [2 * 100 * 784, 2 * 10 * 100],
  W2: [2 * 20 * 576 * 25, 2 * 40 * 64 * 500, 2 * 100 * 640, 2 * 10 * 100],
  W3: [2 * 20 * 576 * 25, 2 * 40 * 64 * 500, 2 * 1000 * 640, 2 * 1000 * 1000, 2 * 10 * 1000],
};
const DESC = {
  W1: "FC 784-100 sigmoid, softmax 10",
  W2: "conv20 5x5+maxpool2, conv40 5x5+maxpool2, FC 100, softmax 10, ReLU",
  W3: "W2 convs, FC 1000, FC 1000, softmax 10, ReLU, dropout 0.5 on FC/softmax inputs",
};

function flops(net, phase) {
  const fwd = LAYERS[net].reduce((a, b) => a + b, 0);
  return phase === "infer" ? fwd : 3 * fwd - LAYERS[net][0];
}

// ---- options (pytorch_ref.py's, same defaults) ----------------------------

function usage(msg) {
  process.stderr.write(
    "usage: ort_ref.mjs [--quick] [--nets W1,W2,W3] [--threads 1,2] [--reps N] " +
      "[--seconds S] [--warmup S] [--infer-batches 1,10,1000] [--phases LIST] [--data DIR] " +
      "[--synthetic] [--images N] [--models DIR] [--json FILE]\n");
  if (msg) process.stderr.write("ort_ref.mjs: error: " + msg + "\n");
  process.exit(2);
}

function intList(s, name) {
  const v = String(s).split(",").filter((x) => x !== "").map(Number);
  if (!v.length || v.some((x) => !Number.isInteger(x) || x < 1))
    usage(`argument ${name}: expected positive integers like 1,2`);
  return v;
}

function parseArgs(argv) {
  const a = {
    quick: false, nets: "W1,W2,W3", threads: [1, 2], modes: "default,channels_last",
    reps: null, seconds: null, warmup: null, trainBatches: [10, 64],
    inferBatches: [1, 10, 1000], phases: "train,infer", data: null, synthetic: false,
    images: 10000, peakN: null, json: null, models: join(ROOT, "build-ort", "models"),
  };
  const flags = { "--quick": "quick", "--synthetic": "synthetic" };
  const valued = {
    "--nets": ["nets", String], "--threads": ["threads", (s) => intList(s, "--threads")],
    "--modes": ["modes", String], "--reps": ["reps", Number], "--seconds": ["seconds", Number],
    "--warmup": ["warmup", Number],
    "--train-batches": ["trainBatches", (s) => intList(s, "--train-batches")],
    "--infer-batches": ["inferBatches", (s) => intList(s, "--infer-batches")],
    "--phases": ["phases", String], "--data": ["data", String], "--images": ["images", Number],
    "--peak-n": ["peakN", Number], "--json": ["json", String], "--models": ["models", String],
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i], val;
    if (arg === "-h" || arg === "--help") usage();
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) [arg, val] = [arg.slice(0, eq), arg.slice(eq + 1)];
    if (flags[arg] && val === undefined) a[flags[arg]] = true;
    else if (valued[arg]) {
      if (val === undefined) {
        if (i + 1 >= argv.length) usage(`argument ${arg}: expected one argument`);
        val = argv[++i];
      }
      const [key, conv] = valued[arg];
      a[key] = conv(val);
      if (typeof a[key] === "number" && Number.isNaN(a[key]))
        usage(`argument ${arg}: invalid value ${JSON.stringify(val)}`);
    } else usage(`unrecognized argument ${argv[i]}`);
  }
  return a;
}

// ---- data (pytorch_ref.py's, bit for bit) ---------------------------------

// bench/main.c's hash in wrapping uint32 arithmetic.
function mix(x) {
  x = Math.imul(x, 0x9e3779b1) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x85ebca77) >>> 0;
  x = (x ^ (x >>> 13)) >>> 0;
  return x;
}

function synthetic(count) {
  const pix = new Uint8Array(count * 784);
  for (let i = 0; i < pix.length; i++) pix[i] = mix(i >>> 0) >>> 24;
  const lab = new Uint8Array(count);
  for (let i = 0; i < count; i++) lab[i] = (mix((i ^ 0x00abcdef) >>> 0) >>> 24) % 10;
  return [pix, lab];
}

function readIdx(path) {
  for (const p of [path, path + ".gz"]) {
    if (!existsSync(p)) continue;
    let raw = readFileSync(p);
    if (raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw);
    const ndim = raw[3];
    const dims = [];
    for (let i = 0; i < ndim; i++) dims.push(raw.readUInt32BE(4 + 4 * i));
    const off = 4 + 4 * ndim;
    return { dims, data: new Uint8Array(raw.buffer, raw.byteOffset + off, raw.length - off) };
  }
  return null;
}

function loadMnist(d, count) {
  const img = readIdx(join(d, "train-images-idx3-ubyte"));
  const lab = readIdx(join(d, "train-labels-idx1-ubyte"));
  if (!img || !lab) return null;
  const n = Math.min(count, img.dims[0]);
  return [img.data.subarray(0, n * 784), lab.data.subarray(0, n)];
}

// ---- timing ---------------------------------------------------------------

function loadavg() {
  try {
    return parseFloat(readFileSync("/proc/loadavg", "utf8").split(/\s+/)[0]);
  } catch {
    return -1.0;
  }
}

// User + system CPU seconds of the process (getrusage RUSAGE_SELF).
function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1e-6;
}

const now = () => performance.now() * 1e-3;

function median(v) {
  const s = [...v].sort((x, y) => x - y), n = s.length;
  return n % 2 ? s[(n - 1) >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

async function runRow(ort, modelPath, net, batch, threads, xs, count, budget) {
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    executionProviders: ["cpu"],
  });
  const inName = session.inputNames[0], outName = session.outputNames[0];
  const state = { pos: 0, sink: 0 };

  async function step() {
    let p = state.pos;
    if (p + batch > count) p = 0;
    state.pos = p + batch;
    const x = xs.subarray(p * 784, Math.min(p + batch, count) * 784);
    const n = x.length / 784;
    const out = await session.run({ [inName]: new ort.Tensor("float32", x, [n, 1, 28, 28]) });
    const y = out[outName].data, k = y.length / n;
    for (let i = 0; i < n; i++) { // argmax over each row, as .argmax(1)
      let best = 0;
      for (let j = 1; j < k; j++) if (y[i * k + j] > y[i * k + best]) best = j;
      state.sink += best;
    }
  }

  // (images per wall second, images per CPU second), as bench/runner.c.
  async function runFor(seconds, minSteps) {
    const c0 = cpuSeconds(), t0 = now();
    let steps = 0;
    for (;;) {
      await step();
      steps++;
      const t = now();
      if (t - t0 >= seconds && steps >= minSteps) {
        const c = cpuSeconds() - c0;
        return [(steps * batch) / (t - t0), c > 0 ? (steps * batch) / c : NaN];
      }
    }
  }

  await runFor(budget.warmup, 3);
  const c0 = cpuSeconds(), w0 = now();
  const pairs = [];
  for (let r = 0; r < budget.reps; r++) pairs.push(await runFor(budget.seconds / budget.reps, 1));
  const cpu = (cpuSeconds() - c0) / (now() - w0);
  await session.release();
  const samples = pairs.map((p) => p[0]);
  const med = median(samples);
  const f = flops(net, "infer");
  return {
    net, phase: "infer", batch, threads, variant: "onnxruntime", img_s: med,
    img_s_min: Math.min(...samples), img_s_max: Math.max(...samples), samples,
    mflop_per_image: f * 1e-6, gflops: med * f * 1e-9, peak_fraction: null, cpu,
    img_cpu_s: median(pairs.map((p) => p[1])), cost: null,
    max_rss_kib: process.resourceUsage().maxRSS,
  };
}

// ---- output (same columns as bench/report.c) ------------------------------

// printf("%*.*f"), with Python's spelling of NaN and infinity.
const fx = (v, w, d) => (Number.isFinite(v) ? v.toFixed(d)
  : Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf").padStart(w);
const ls = (s, w) => String(s).padEnd(w);
const rs = (s, w) => String(s).padStart(w);

function fmtRow(r) {
  const pct = r.peak_fraction === null ? "-" : (100 * r.peak_fraction).toFixed(1) + "%";
  return [ls(r.net, 4), ls(r.phase, 5), rs(r.batch, 5), rs(r.threads, 3), ls(r.variant, 13),
    fx(r.img_s, 10, 1), fx(r.img_s_min, 10, 1), fx(r.img_s_max, 10, 1), fx(r.gflops, 8, 2),
    rs(pct, 6), fx(r.cpu, 5, 2), fx(r.img_cpu_s, 10, 1)].join(" ");
}

const HEADER = [ls("net", 4), ls("phase", 5), rs("batch", 5), rs("thr", 3), ls("variant", 13),
  rs("img/s", 10), rs("min", 10), rs("max", 10), rs("GFLOP/s", 8), rs("%peak", 6), rs("cpu", 5),
  rs("img/cpu-s", 10)].join(" ");

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const budget = {
    reps: a.reps || (a.quick ? 3 : 5),
    seconds: a.seconds || (a.quick ? 0.3 : 2.0),
    warmup: a.warmup !== null ? a.warmup : a.quick ? 0.1 : 0.5,
  };
  const nets = a.nets.split(",");
  for (const n of nets) if (!(n in LAYERS)) usage(`unknown net '${n}'`);
  const models = resolve(a.models);
  for (const n of nets) {
    if (!existsSync(join(models, n + ".onnx")))
      usage(`no ${join(models, n + ".onnx")}; run /usr/bin/python3 bench/export_onnx.py ` +
            `--out ${a.models}`);
  }
  let ort;
  try {
    ort = require("onnxruntime-node");
  } catch (e) {
    process.stderr.write(`ort_ref.mjs: cannot load onnxruntime-node (${e.message}); ` +
      `run: cd ${HERE} && npm install --ignore-scripts\n`);
    process.exit(1);
  }
  const version = require("onnxruntime-node/package.json").version;
  const loadStart = loadavg();

  let data = null;
  if (!a.synthetic) {
    for (const d of a.data ? [a.data] : ["data/mnist", join(ROOT, "data", "mnist")]) {
      data = loadMnist(d, a.images);
      if (data) break;
    }
    if (!data && a.data) {
      process.stderr.write(`ort_ref: no MNIST in ${a.data}\n`);
      process.exit(1);
    }
  }
  const kind = data ? "mnist" : "synthetic";
  const [pix] = data || synthetic(a.images);
  const count = pix.length / 784;
  const xs = new Float32Array(pix.length);
  for (let i = 0; i < pix.length; i++) xs[i] = pix[i] / 256.0;

  console.log(`ort_ref: onnxruntime-node ${version}, mlas | data: ${kind}, ${count} images | ` +
    `${budget.reps} reps x ${(budget.seconds / budget.reps).toFixed(2)} s, ` +
    `warm-up ${budget.warmup.toFixed(2)} s`);
  for (const n of nets)
    console.log(`# ${n}: ${DESC[n]}; ${(flops(n, "train") * 1e-6).toFixed(3)} MFLOP/image ` +
      `training, ${(flops(n, "infer") * 1e-6).toFixed(3)} inference`);
  console.log(HEADER);

  const rows = [];
  const phases = a.phases.split(",");
  for (const n of nets) {
    if (!phases.includes("infer")) continue;
    for (const b of a.inferBatches) {
      for (const t of a.threads) {
        const r = await runRow(ort, join(models, n + ".onnx"), n, b, t, xs, count, budget);
        rows.push(r);
        console.log(fmtRow(r));
      }
    }
  }
  const rss = process.resourceUsage().maxRSS;
  const loadEnd = loadavg();
  console.log(`peak RSS: ${(rss / 1024).toFixed(1)} MiB | load average ${loadStart.toFixed(2)} ` +
    `at start, ${loadEnd.toFixed(2)} at end`);
  if (a.json) {
    const out = {
      tool: "ort_ref", impl: `onnxruntime-node ${version}`, blas: "mlas", data: kind,
      images: count, reps: budget.reps, seconds: budget.seconds, warmup: budget.warmup,
      peak: [], loadavg: [loadStart, loadEnd], max_rss_kib: rss, rows,
    };
    writeFileSync(a.json, JSON.stringify(out, null, 1));
  }
}

await main();
