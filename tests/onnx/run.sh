#!/usr/bin/env bash
# The ONNX tests (meson suite "onnx"):
#
#   run.sh export   TOOL SRCDIR WORK MNIST   libcnn nets of every layer kind,
#       pooling mode and activation: onnx checker, ONNX Runtime's outputs
#       against libcnn's on 1,000 images, and an exact re-export round trip;
#   run.sh import   ...   PyTorch's W2 and a small modern CNN exported by
#       torch.onnx.export, imported, outputs against PyTorch's;
#   run.sh refusals ...   graphs libcnn cannot represent are refused with
#       the expected message.
# Exit 77 (meson: SKIP) with the reason when a tool is missing: Node.js and
# onnxruntime-node (tests/onnx/node_modules), /usr/bin/python3 with onnx
# (python3-onnx) and torch (python3-torch), or ONNX in the library.
set -euo pipefail
part=$1 tool=$2 src=$3 work=$4 mnist=$5
py=/usr/bin/python3

skip() {
    echo "SKIP: onnx_$part: $*"
    exit 77
}

[ "${CNN_HAVE_ONNX:-1}" = 1 ] || skip "libcnn built without ONNX (meson -Donnx=enabled needs protobuf-c)"
[ -x "$py" ] && "$py" -c 'import onnx, numpy' 2>/dev/null || skip "no /usr/bin/python3 with onnx and numpy (python3-onnx)"
rm -rf "$work"
mkdir -p "$work"

case "$part" in
export)
    command -v node >/dev/null || skip "no node (Node.js)"
    [ -d "$src/node_modules/onnxruntime-node" ] ||
        skip "no onnxruntime-node: cd tests/onnx && npm install --ignore-scripts"
    "$tool" nets "$work" "$mnist"
    n=0
    for model in "$work"/*.onnx; do
        name=$(basename "$model" .onnx)
        echo "== $name"
        "$py" "$src/check.py" "$model"
        node "$src/ort_run.mjs" "$model" "$work/images.f32" "$work/$name.ort.f32" 1 28 28
        "$tool" compare "$work/$name.libcnn.f32" "$work/$name.ort.f32"
        "$tool" roundtrip "$model"
        n=$((n + 1))
    done
    [ "$n" -ge 8 ] || { echo "only $n models"; exit 1; }
    echo "onnx_export: $n models checked, run in ONNX Runtime and round-tripped"
    ;;
import)
    "$py" -c 'import torch' 2>/dev/null || skip "no torch for /usr/bin/python3 (python3-torch)"
    # The same 1,000 inputs as the export test.
    "$tool" nets "$work" "$mnist" >/dev/null
    "$py" "$src/torch_nets.py" "$work" "$mnist"
    for name in w2 modern mixed; do
        echo "== $name"
        "$py" "$src/check.py" --any-producer "$work/$name.onnx"
        "$tool" import "$work/$name.onnx" "$work/images.f32" "$work/$name.libcnn.f32"
        "$tool" compare "$work/$name.torch.f32" "$work/$name.libcnn.f32"
    done
    echo "onnx_import: PyTorch's W2, a modern CNN and a mixed one match PyTorch in libcnn"
    ;;
refusals)
    "$py" "$src/refusals.py" "$work"
    n=0
    while IFS=$'\t' read -r file text; do
        echo "== $file (expect: $text)"
        "$tool" refuse "$work/$file" "$text"
        n=$((n + 1))
    done <"$work/expected.tsv"
    [ "$n" -ge 6 ] || { echo "only $n refusals"; exit 1; }
    echo "onnx_refusals: $n graphs refused with the expected messages"
    ;;
*)
    echo "usage: run.sh export|import|refusals TOOL SRCDIR WORK MNIST" >&2
    exit 2
    ;;
esac
