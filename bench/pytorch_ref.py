#!/usr/bin/python3
"""PyTorch reference for cnn-bench: the same three networks (W1, W2, W3),
the same initial weight scale, data, batch sizes, thread counts, rows,
table and JSON keys, so bench/compare can pair the two row by row.

Run with Debian's interpreter, /usr/bin/python3, which has python3-torch:
    /usr/bin/python3 bench/pytorch_ref.py --quick
Modes: "default" (NCHW) for every net, plus "channels_last" for W2 and W3.

Fairness notes (also in docs/performance.md):
- Threads: torch.set_num_threads(t) governs PyTorch's own OpenMP/oneDNN
  work, but its matrix products go to OpenBLAS, whose pool defaults to all
  cores.  We also call openblas_set_num_threads(t) on the OpenBLAS that torch
  loaded, so a "1 thread" row uses one core; the cpu column shows it.
- Data: the batch is a slice of a float tensor converted once up front
  (the cheapest thing PyTorch can do); libcnn converts bytes per batch.
- Dropout: nn.Dropout is inverted dropout (rescaled while training);
  network3 rescales at inference instead.  Same work per step.
- Loss: cross_entropy = log_softmax + mean NLL, network3's cost.
"""
import argparse
import ctypes
import gzip
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# Per-image GEMM FLOPs: the same formula as bench/nets.c (forward 2MNK per
# layer; training = 3 x forward minus the first layer's backward-data).
LAYERS = {
    "W1": [2 * 100 * 784, 2 * 10 * 100],
    "W2": [2 * 20 * 576 * 25, 2 * 40 * 64 * 500, 2 * 100 * 640, 2 * 10 * 100],
    "W3": [2 * 20 * 576 * 25, 2 * 40 * 64 * 500, 2 * 1000 * 640, 2 * 1000 * 1000,
           2 * 10 * 1000],
}
ETA = {"W1": 0.1, "W2": 0.03, "W3": 0.03}
DESC = {
    "W1": "FC 784-100 sigmoid, softmax 10",
    "W2": "conv20 5x5+maxpool2, conv40 5x5+maxpool2, FC 100, softmax 10, ReLU",
    "W3": "W2 convs, FC 1000, FC 1000, softmax 10, ReLU, dropout 0.5 on FC/softmax inputs",
}


def flops(net, phase):
    fwd = sum(LAYERS[net])
    return fwd if phase == "infer" else 3 * fwd - LAYERS[net][0]


# ---- threads -------------------------------------------------------------

def _find_openblas():
    """The OpenBLAS torch loaded (via libblas.so.3), or None."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "openblas" in line and ".so" in line}
    for p in sorted(paths):
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_set_num_threads  # noqa: B018 - probe the symbol
            return lib
        except (OSError, AttributeError):
            continue
    return None


_OPENBLAS = None


def set_threads(t):
    torch.set_num_threads(t)
    if _OPENBLAS is not None:
        _OPENBLAS.openblas_set_num_threads(ctypes.c_int(t))


# ---- networks ------------------------------------------------------------

def build(net, seed=12345):
    """network3's layers and initial scale: conv weights N(0, 1/n_out) with
    n_out = maps*25/4, FC weights N(0, 1/n_out), biases N(0, 1), softmax 0.
    Conv -> maxpool -> ReLU equals network3's conv -> pool -> bias -> ReLU
    (a per-map bias commutes with max)."""
    torch.manual_seed(seed)

    def conv(cin, cout):
        c = nn.Conv2d(cin, cout, 5)
        nn.init.normal_(c.weight, 0.0, (1.0 / (cout * 25 / 4)) ** 0.5)
        nn.init.normal_(c.bias, 0.0, 1.0)
        return c

    def fc(i, o):
        lin = nn.Linear(i, o)
        nn.init.normal_(lin.weight, 0.0, (1.0 / o) ** 0.5)
        nn.init.normal_(lin.bias, 0.0, 1.0)
        return lin

    def softmax(i):
        lin = nn.Linear(i, 10)
        nn.init.zeros_(lin.weight)
        nn.init.zeros_(lin.bias)
        return lin  # log_softmax lives in the loss

    if net == "W1":
        layers = [nn.Flatten(), fc(784, 100), nn.Sigmoid(), softmax(100)]
    else:
        convs = [conv(1, 20), nn.MaxPool2d(2), nn.ReLU(),
                 conv(20, 40), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten()]
        if net == "W2":
            layers = convs + [fc(640, 100), nn.ReLU(), softmax(100)]
        else:
            layers = convs + [nn.Dropout(0.5), fc(640, 1000), nn.ReLU(),
                              nn.Dropout(0.5), fc(1000, 1000), nn.ReLU(),
                              nn.Dropout(0.5), softmax(1000)]
    return nn.Sequential(*layers)


# ---- data ----------------------------------------------------------------

def _mix(x):
    """bench/main.c's hash, in wrapping uint32 arithmetic."""
    x = (x * np.uint32(0x9E3779B1)).astype(np.uint32)
    x ^= x >> np.uint32(15)
    x = (x * np.uint32(0x85EBCA77)).astype(np.uint32)
    x ^= x >> np.uint32(13)
    return x


def synthetic(count):
    with np.errstate(over="ignore"):
        pix = (_mix(np.arange(count * 784, dtype=np.uint32)) >> np.uint32(24)).astype(np.uint8)
        idx = np.arange(count, dtype=np.uint32) ^ np.uint32(0x00ABCDEF)
        lab = ((_mix(idx) >> np.uint32(24)) % np.uint32(10)).astype(np.uint8)
    return pix.reshape(count, 1, 28, 28), lab


def _read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with open(p, "rb") as f:
                raw = f.read()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            ndim = raw[3]
            dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
            return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    return None


def load_mnist(d, count):
    img = _read_idx(os.path.join(d, "train-images-idx3-ubyte"))
    lab = _read_idx(os.path.join(d, "train-labels-idx1-ubyte"))
    if img is None or lab is None:
        return None
    n = min(count, img.shape[0])
    return img[:n].reshape(n, 1, 28, 28), lab[:n]


# ---- timing --------------------------------------------------------------

def loadavg():
    """1-minute load average (see bench/runner.c: the figures should say how
    busy the shared machine was)."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return -1.0


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_row(net, phase, batch, threads, variant, xs, ys, budget):
    set_threads(threads)
    model = build(net)
    cl = variant == "channels_last"
    if cl:
        model = model.to(memory_format=torch.channels_last)
    count = xs.shape[0]
    state = {"pos": 0, "cost": float("nan")}
    if phase == "train":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=ETA[net])

        def step():
            p = state["pos"]
            if p + batch > count:
                p = 0
            x, y = xs[p:p + batch], ys[p:p + batch]
            state["pos"] = p + batch
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            state["loss"] = loss
    else:
        model.eval()

        def step():
            p = state["pos"]
            if p + batch > count:
                p = 0
            state["pos"] = p + batch
            with torch.no_grad():
                model(xs[p:p + batch]).argmax(1)

    def run_for(seconds, min_steps):
        """(images per wall second, images per CPU second), as bench/runner.c."""
        c0, t0 = cpu_seconds(), time.perf_counter()
        steps = 0
        while True:
            step()
            steps += 1
            t = time.perf_counter()
            if t - t0 >= seconds and steps >= min_steps:
                c = cpu_seconds() - c0
                return steps * batch / (t - t0), (steps * batch / c if c > 0 else float("nan"))

    run_for(budget["warmup"], 3)
    c0, w0 = cpu_seconds(), time.perf_counter()
    pairs = [run_for(budget["seconds"] / budget["reps"], 1) for _ in range(budget["reps"])]
    cpu = (cpu_seconds() - c0) / (time.perf_counter() - w0)
    samples = [p[0] for p in pairs]
    if "loss" in state:
        state["cost"] = float(state["loss"].item())
    med = statistics.median(samples)
    f = flops(net, phase)
    return {"net": net, "phase": phase, "batch": batch, "threads": threads,
            "variant": variant, "img_s": med, "img_s_min": min(samples),
            "img_s_max": max(samples), "samples": samples,
            "mflop_per_image": f * 1e-6, "gflops": med * f * 1e-9,
            "peak_fraction": None, "cpu": cpu,
            "img_cpu_s": statistics.median(p[1] for p in pairs),
            "cost": state["cost"] if phase == "train" else None,
            "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def measure_peak(n, threads, reps):
    set_threads(threads)
    g = torch.Generator().manual_seed(1)
    a = torch.rand(n, n, generator=g) * 2 - 1
    b = torch.rand(n, n, generator=g) * 2 - 1
    c = torch.empty(n, n)
    torch.mm(a, b, out=c)
    res = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        res.append(2.0 * n ** 3 / (time.perf_counter() - t0) * 1e-9)
    # Best of the calls, as bench/peak.c: noise only ever slows a call down.
    return {"threads": threads, "n": n, "gflops": max(res)}


# ---- output (same columns as bench/report.c) -----------------------------

def fmt_row(r):
    pct = "-" if r["peak_fraction"] is None else "%.1f%%" % (100 * r["peak_fraction"])
    return "%-4s %-5s %5d %3d %-13s %10.1f %10.1f %10.1f %8.2f %6s %5.2f %10.1f" % (
        r["net"], r["phase"], r["batch"], r["threads"], r["variant"], r["img_s"],
        r["img_s_min"], r["img_s_max"], r["gflops"], pct, r["cpu"], r["img_cpu_s"])


HEADER = "%-4s %-5s %5s %3s %-13s %10s %10s %10s %8s %6s %5s %10s" % (
    "net", "phase", "batch", "thr", "variant", "img/s", "min", "max", "GFLOP/s", "%peak", "cpu",
    "img/cpu-s")


def int_list(s):
    v = [int(x) for x in s.split(",") if x]
    if not v or min(v) < 1:
        raise argparse.ArgumentTypeError("expected positive integers like 1,2")
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 reps x 0.1 s, 1024^3 peak")
    ap.add_argument("--nets", default="W1,W2,W3")
    ap.add_argument("--threads", type=int_list, default=[1, 2])
    ap.add_argument("--modes", default="default,channels_last",
                    help="channels_last applies to W2/W3 only")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--warmup", type=float)
    ap.add_argument("--train-batches", type=int_list, default=[10, 64])
    ap.add_argument("--infer-batches", type=int_list, default=[1, 10, 1000])
    ap.add_argument("--phases", default="train,infer")
    ap.add_argument("--data", default=None)
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--peak-n", type=int)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    budget = {"reps": a.reps or (3 if a.quick else 5),
              "seconds": a.seconds or (0.3 if a.quick else 2.0),
              "warmup": a.warmup if a.warmup is not None else (0.1 if a.quick else 0.5)}
    peak_n = a.peak_n if a.peak_n is not None else (1024 if a.quick else 2048)
    nets = a.nets.split(",")
    for n in nets:
        if n not in LAYERS:
            ap.error("unknown net %r" % n)
    modes = a.modes.split(",")

    global _OPENBLAS
    _OPENBLAS = _find_openblas()
    load_start = loadavg()

    data = None
    if not a.synthetic:
        here = os.path.dirname(os.path.abspath(__file__))
        for d in ([a.data] if a.data else ["data/mnist", os.path.join(here, "..", "data", "mnist")]):
            data = load_mnist(d, a.images)
            if data is not None:
                break
        if data is None and a.data:
            sys.exit("pytorch_ref: no MNIST in %s" % a.data)
    kind = "mnist" if data is not None else "synthetic"
    pix, lab = data if data is not None else synthetic(a.images)
    xs = torch.from_numpy(pix.astype(np.float32) / 256.0)
    ys = torch.from_numpy(lab.astype(np.int64))
    xs_cl = xs.contiguous(memory_format=torch.channels_last)

    peaks = [measure_peak(peak_n, t, budget["reps"]) for t in a.threads] if peak_n > 0 else []
    blas = "openblas" if _OPENBLAS is not None else "unknown"
    print("pytorch_ref: pytorch %s, %s | data: %s, %d images | %d reps x %.2f s, warm-up %.2f s"
          % (torch.__version__, blas, kind, xs.shape[0], budget["reps"],
             budget["seconds"] / budget["reps"], budget["warmup"]))
    if peaks:
        print("sgemm peak: " + ", ".join(
            "%d thread%s %.1f GFLOP/s (sgemm %d^3)" % (p["threads"], "" if p["threads"] == 1
                                                      else "s", p["gflops"], p["n"])
            for p in peaks))
    for n in nets:
        print("# %s: %s; %.3f MFLOP/image training, %.3f inference"
              % (n, DESC[n], flops(n, "train") * 1e-6, flops(n, "infer") * 1e-6))
    print(HEADER)
    sys.stdout.flush()

    rows = []
    for n in nets:
        for phase, bs in (("train", a.train_batches), ("infer", a.infer_batches)):
            if phase not in a.phases:
                continue
            for b in bs:
                for t in a.threads:
                    for m in modes:
                        if m == "channels_last" and n == "W1":
                            continue
                        r = run_row(n, phase, b, t, m, xs_cl if m == "channels_last" else xs,
                                    ys, budget)
                        for p in peaks:
                            if p["threads"] == t:
                                r["peak_fraction"] = r["gflops"] / p["gflops"]
                        rows.append(r)
                        print(fmt_row(r))
                        sys.stdout.flush()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    load_end = loadavg()
    print("peak RSS: %.1f MiB | load average %.2f at start, %.2f at end"
          % (rss / 1024.0, load_start, load_end))
    if a.json:
        out = {"tool": "pytorch_ref", "impl": "pytorch %s" % torch.__version__, "blas": blas,
               "data": kind, "images": int(xs.shape[0]), "reps": budget["reps"],
               "seconds": budget["seconds"], "warmup": budget["warmup"], "peak": peaks,
               "loadavg": [load_start, load_end], "max_rss_kib": rss, "rows": rows}
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
