#!/bin/sh
# cnn-mnist's command line and file handling (issue 16, section 5), on a
# synthetic MNIST of all-zero images that this script writes itself (the
# training pair gzipped, the test pair raw), so it runs in seconds:
#   - bad numbers are usage errors (exit 2) with a message naming them:
#     whitespace around integers, floats that overflow or round to a
#     boundary as the float the library gets;
#   - outputs are checked before any data is loaded or net trained (exit
#     2): a directory, a device, a directory where no file can be created;
#   - a file size limit (ulimit -f) makes --save fail with "File too large"
#     (exit 1), not kill the trainer with SIGXFSZ, and leaves no temporary
#     file; a temporary file left by a dead process is removed by the next
#     save of the same path;
#   - Ctrl-C (SIGINT) during the evaluation of loaded nets stops it and
#     exits 130 without voting;
#   - the pictures (issue 14) are RGB PNGs of a readable size: filters
#     upscaled, errors at 2x in rows of 16, a one-epoch --plot that says it
#     drew the cost within the epoch, a picture of no errors, and a net
#     with NaN, infinite and huge weights drawn, not refused or crashed on.
#
#   - the manual page (docs/man/cnn-mnist.1, when given) lists every
#     option that --help prints.
#
# usage: trainer_cli.sh CNN_MNIST_EXECUTABLE [MAN_PAGE]
set -u

exe=${1:?usage: trainer_cli.sh CNN_MNIST_EXECUTABLE [MAN_PAGE]}
man=${2:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cnn_trainer_cli.XXXXXX") || exit 1
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
fails=0

fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# expect STATUS TEXT ARGS...: runs cnn-mnist, wants exit STATUS and TEXT
# in its standard error.
expect() {
    want=$1 text=$2
    shift 2
    "$exe" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "cnn-mnist $* exited $rc, want $want: $(cat "$tmp/err")"
    elif ! grep -qF -- "$text" "$tmp/err"; then
        fail "cnn-mnist $*: stderr lacks '$text': $(cat "$tmp/err")"
    else
        echo "ok: $* -> $rc: $(head -n 1 "$tmp/err")"
    fi
}

# ---- usage errors: exit 2 before anything is loaded ----------------------
nodata="--data $tmp/none"
expect 2 "--eta 1e300 is too large for a float" fc --eta 1e300 $nodata
expect 2 "--eta 1e-50 is too small for a float" fc --eta 1e-50 $nodata
expect 2 "--lambda 1e39 is too large for a float" fc --lambda 1e39 $nodata
expect 2 "--momentum 0.99999999999 rounds to 1" fc --momentum 0.99999999999 $nodata
# Optimizers and schedules (issue 10).
expect 2 "--optimizer wants sgd, nesterov, adam or adamw" fc --optimizer rmsprop $nodata
expect 2 "--optimizer nesterov needs --momentum > 0" fc --optimizer nesterov $nodata
expect 2 "--weight-decay is for --optimizer adam or adamw" fc --weight-decay 0.1 $nodata
expect 2 "--weight-decay wants a number >= 0" fc --optimizer adam --weight-decay -1 $nodata
expect 2 "--weight-decay 1e60 is too large for a float" fc --optimizer adamw --weight-decay 1e60 $nodata
expect 2 "--momentum and --lambda are SGD's" fc --optimizer adam --momentum 0.9 $nodata
expect 2 "--schedule wants constant, step, cosine or onecycle" fc --schedule linear $nodata
expect 2 "--warmup is for --schedule onecycle" fc --warmup 0.2 $nodata
expect 2 "--warmup wants a fraction in [0, 1)" fc --schedule onecycle --warmup 1 $nodata
expect 2 "--warmup 0.99999999999 rounds to 1" fc --schedule onecycle --warmup 0.99999999999 $nodata
expect 2 "--epochs wants a whole number" fc --epochs " 5" $nodata
expect 2 "--epochs wants a whole number" fc --epochs "5 " $nodata
expect 2 "--batch wants a whole number" fc --batch " 10" $nodata
expect 2 "--threads wants a whole number" fc --threads "1 " $nodata
expect 2 "--seed wants a whole number" fc --seed " 1" $nodata
expect 2 "--train-size wants a whole number" fc --train-size "+10" $nodata
expect 2 "--ensemble wants a whole number" fc --ensemble " 2" $nodata
expect 2 "--eta wants a learning rate" fc --eta " 0.1" $nodata
expect 2 "--require-accuracy wants a fraction" fc --require-accuracy " 0.5" $nodata

mkdir "$tmp/dir"
expect 2 "--save '$tmp/dir' is a directory" fc --save "$tmp/dir" $nodata
expect 2 "--save '/dev/null' exists and is not a regular file" fc --save /dev/null $nodata
expect 2 "--checkpoint '$tmp/dir' is a directory" fc --checkpoint "$tmp/dir" $nodata
expect 2 "--checkpoint '/dev/null' exists and is not a regular file" fc --checkpoint /dev/null $nodata
expect 2 "--plot '/dev/null' exists and is not a regular file" fc --plot /dev/null $nodata
expect 2 "--plot draws the training history: with --load it needs --epochs N" --load x.cnnm --plot "$tmp/p.png" $nodata
mkdir "$tmp/dir/n-2.cnnm"
expect 2 "--save '$tmp/dir/n-2.cnnm' is a directory" fc --ensemble 2 --save "$tmp/dir/n.cnnm" $nodata
# A directory where no file can be created: read-only for an ordinary
# user; root writes anywhere, so for root a file system that refuses new
# files (/proc).
if [ "$(id -u)" -ne 0 ]; then
    mkdir "$tmp/ro" && chmod 555 "$tmp/ro"
    ro="$tmp/ro"
else
    ro=/proc
fi
expect 2 "--checkpoint '$ro/s.ckpt': cannot create a file in directory '$ro'" fc --checkpoint "$ro/s.ckpt" $nodata
expect 2 "--save '$ro/a.cnnm': cannot create a file in directory '$ro'" fc --save "$ro/a.cnnm" $nodata
if [ -n "$(ls -A "$tmp/dir/n-2.cnnm")" ] || [ "$(ls "$tmp/dir" | wc -l)" -ne 1 ]; then
    fail "the output checks left files behind: $(ls -A "$tmp/dir")"
fi

# ---- a synthetic MNIST: 60,000 + 10,000 zero images of 28x28 -------------
# idx N MAGIC_BYTE DIMS...: an IDX header (big-endian) then N zero bytes.
be32() {
    printf "\\$(printf %03o $(($1 >> 24 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))"
    printf "\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 & 255)))"
}
idx() {
    bytes=$1 magic=$2
    shift 2
    be32 "$magic"
    for d in "$@"; do be32 "$d"; done
    head -c "$bytes" /dev/zero
}
mkdir "$tmp/mnist"
idx $((60000 * 784)) 2051 60000 28 28 | gzip -1 >"$tmp/mnist/train-images-idx3-ubyte.gz"
idx 60000 2049 60000 | gzip -1 >"$tmp/mnist/train-labels-idx1-ubyte.gz"
idx $((10000 * 784)) 2051 10000 28 28 >"$tmp/mnist/t10k-images-idx3-ubyte"
idx 10000 2049 10000 >"$tmp/mnist/t10k-labels-idx1-ubyte"
run="fc --epochs 1 --train-size 10 --data $tmp/mnist --quiet"

# ---- saving ----------------------------------------------------------------
# A temporary file of a process that no longer exists (killed during its
# fsync): removed by the next save of the same path.
dead=$(sh -c 'echo $$')
touch "$tmp/a.cnnm.tmp.$dead.AbC123"
"$exe" $run --save "$tmp/a.cnnm" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] || [ ! -s "$tmp/a.cnnm" ]; then
    fail "training and --save exited $rc: $(cat "$tmp/err")"
else
    echo "ok: trained and saved $tmp/a.cnnm"
fi
if [ -e "$tmp/a.cnnm.tmp.$dead.AbC123" ]; then
    fail "the stale temporary file of pid $dead was not removed"
else
    echo "ok: the stale temporary file of dead pid $dead was removed"
fi

# ulimit -f: the model (~318 kB) does not fit in 50 kB.
(ulimit -f 100 && exec "$exe" $run --save "$tmp/big.cnnm") >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 1 ]; then
    fail "--save past ulimit -f exited $rc, want 1 (153 = killed by SIGXFSZ): $(cat "$tmp/err")"
elif ! grep -qF "File too large" "$tmp/err"; then
    fail "--save past ulimit -f: stderr lacks 'File too large': $(cat "$tmp/err")"
else
    echo "ok: --save past ulimit -f -> 1: $(cat "$tmp/err")"
fi
left=$(ls -A "$tmp" | grep '^big\.cnnm')
[ -z "$left" ] || fail "--save past ulimit -f left $left"

# ---- pictures ----------------------------------------------------------------
# png_size FILE: "WIDTH HEIGHT COLOUR_TYPE" from the PNG's IHDR chunk
# (bytes 16-25: two big-endian u32, the bit depth, the colour type; 2 is
# RGB); nothing when FILE is not a PNG.
png_size() {
    [ "$(dd if="$1" bs=1 skip=1 count=3 2>/dev/null)" = PNG ] || return 0
    set -- $(od -An -tu1 -j16 -N10 "$1")
    [ $# -eq 10 ] && echo $(($1 << 24 | $2 << 16 | $3 << 8 | $4)) $(($5 << 24 | $6 << 16 | $7 << 8 | $8)) "${10}"
}
# check_png FILE MIN_WIDTH MIN_HEIGHT WHY: an RGB PNG at least that large.
check_png() {
    set -- "$1" "$2" "$3" "$4" $(png_size "$1")
    if [ $# -ne 7 ]; then
        fail "$1 is not a PNG"
    elif [ "$7" -ne 2 ] || [ "$5" -lt "$2" ] || [ "$6" -lt "$3" ]; then
        fail "$1 is $5x$6 of PNG colour type $7, want RGB (2) and at least $2x$3 ($4)"
    else
        echo "ok: $(basename "$1") is $5x$6 RGB ($4)"
    fi
}
# want_line FILE TEXT: cnn-mnist's output has a line with TEXT.
want_line() {
    if grep -qF -- "$2" "$1"; then
        echo "ok: $(grep -F -- "$2" "$1" | head -n 1)"
    else
        fail "no '$2' in: $(cat "$1")"
    fi
}

# One epoch of 10 batches: the plot has the cost within the epoch (a point
# per batch: a stretch is at least 1/100 epoch) and says so.  The images
# are all zero and all labelled 0, so nothing is misclassified.  The first
# layer is dense, 100 neurons of 28x28: tiles of at least 48 pixels, 4:5
# grid (12 columns, 9 rows).
"$exe" fc --epochs 1 --train-size 10 --batch 1 --data "$tmp/mnist" --plot "$tmp/p1.png" \
    --filters "$tmp/f.png" --errors "$tmp/e0.png" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ]; then
    fail "a 1-epoch run with pictures exited $rc: $(cat "$tmp/err")"
else
    want_line "$tmp/out" "wrote $tmp/p1.png (1 epoch: training cost at 10 points within it, accuracy at its end)"
    want_line "$tmp/out" "the plot marks epoch 1: best validation accuracy 100.00%, test 100.00%"
    want_line "$tmp/out" "wrote $tmp/e0.png (no test digit is misclassified by the final net)"
    check_png "$tmp/p1.png" 640 480 "plot"
    check_png "$tmp/f.png" $((12 * 48)) $((9 * 48)) "100 tiles of 28x28 upscaled to 48+ pixels"
    check_png "$tmp/e0.png" 200 20 "no errors: a header saying so"
fi

"$exe" fc --epochs 2 --train-size 10 --data "$tmp/mnist" --plot "$tmp/p2.png" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ]; then
    fail "a 2-epoch run with --plot exited $rc: $(cat "$tmp/err")"
else
    want_line "$tmp/out" "wrote $tmp/p2.png (training cost and accuracy over 2 epochs)"
    check_png "$tmp/p2.png" 640 480 "plot"
fi

# Every test label 7: all 10,000 misclassified, the first 400 drawn, 28x28
# digits at 2x in rows of 16 (25 rows).
mkdir "$tmp/wrong"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte; do
    ln -s "$tmp/mnist/$f" "$tmp/wrong/$f"
done
{ be32 2049; be32 10000; head -c 10000 /dev/zero | tr '\000' '\007'; } >"$tmp/wrong/t10k-labels-idx1-ubyte"
"$exe" --load "$tmp/a.cnnm" --data "$tmp/wrong" --errors "$tmp/e400.png" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ]; then
    fail "--errors with 10000 errors exited $rc: $(cat "$tmp/err")"
else
    want_line "$tmp/out" "wrote $tmp/e400.png (400 of the 10000 test digits misclassified"
    check_png "$tmp/e400.png" $((16 * 56)) $((25 * 56)) "400 digits of 56x56 in rows of 16"
fi

# A net whose first weights are NaN, +inf, FLT_MAX and -FLT_MAX (the model
# file patched, its CRC-32 recomputed with gzip, whose trailer holds the
# same CRC): drawn, with the two non-finite ones counted.  fc's weights
# start at byte 108 (header 24, network 32, layer kind, length,
# descriptor 28, two counts).
poke() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null; }
size=$(wc -c <"$tmp/a.cnnm")
head -c $((size - 4)) "$tmp/a.cnnm" >"$tmp/odd.cnnm"
poke "$tmp/odd.cnnm" 108 '\000\000\300\177'
poke "$tmp/odd.cnnm" 112 '\000\000\200\177'
poke "$tmp/odd.cnnm" 116 '\377\377\177\177'
poke "$tmp/odd.cnnm" 120 '\377\377\177\377'
gzip -c "$tmp/odd.cnnm" | tail -c 8 | head -c 4 >>"$tmp/odd.cnnm"
"$exe" --load "$tmp/odd.cnnm" --data "$tmp/mnist" --filters "$tmp/odd.png" --quiet \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ]; then
    fail "--filters of NaN, infinite and huge weights exited $rc: $(cat "$tmp/err")"
else
    want_line "$tmp/out" "2 of the weights drawn are NaN or infinite (red in $tmp/odd.png)"
    check_png "$tmp/odd.png" $((12 * 48)) $((9 * 48)) "odd weights"
fi

# ---- a vote of loaded nets reports how often the members disagreed --------
# (three copies of one net: they agree on every image)
"$exe" --load "$tmp/a.cnnm" --load "$tmp/a.cnnm" --load "$tmp/a.cnnm" --data "$tmp/mnist" \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ]; then
    fail "vote of 3 loaded nets exited $rc: $(cat "$tmp/err")"
elif ! grep -qE '^members disagreed on 0 of [0-9]+ test images' "$tmp/out"; then
    fail "vote of 3 copies: no 'members disagreed on 0' line: $(grep -i disagree "$tmp/out")"
else
    echo "ok: $(grep '^members disagreed' "$tmp/out")"
fi

# ---- --export-onnx, --import-onnx: the ONNX copy votes like the original ----
"$exe" $run --save "$tmp/o.cnnm" --export-onnx "$tmp/o.onnx" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] && grep -qF "without ONNX" "$tmp/err"; then
    echo "SKIP: --export-onnx: $(cat "$tmp/err")"
elif [ $rc -ne 0 ] || [ ! -s "$tmp/o.onnx" ]; then
    fail "--export-onnx exited $rc: $(cat "$tmp/err")"
else
    "$exe" --load "$tmp/o.cnnm" --import-onnx "$tmp/o.onnx" --data "$tmp/mnist" \
        >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -ne 0 ] || ! grep -qE '^members disagreed on 0 of [0-9]+ test images' "$tmp/out"; then
        fail "--load + --import-onnx of the same net exited $rc: $(cat "$tmp/err")"
    else
        echo "ok: --export-onnx then --import-onnx: $(grep '^members disagreed' "$tmp/out")"
    fi
fi

# ---- Ctrl-C during the evaluation of loaded nets ---------------------------
set --
i=0
while [ $i -lt 64 ]; do
    set -- "$@" --load "$tmp/a.cnnm"
    i=$((i + 1))
done
"$exe" "$@" --data "$tmp/mnist" >"$tmp/out" 2>"$tmp/err" &
pid=$!
# Wait (at most 60 s) until it is evaluating, then interrupt it.
i=0
while ! grep -q "evaluating only" "$tmp/out" 2>/dev/null && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 0.2
kill -INT $pid
wait $pid
rc=$?
done_nets=$(grep -c "final net" "$tmp/out")
if [ $rc -ne 130 ]; then
    fail "SIGINT during evaluation: exit $rc, want 130 ($done_nets of 64 nets evaluated): $(cat "$tmp/err")"
elif grep -q "ensemble of" "$tmp/out"; then
    fail "SIGINT during evaluation: the vote still ran"
else
    echo "ok: SIGINT during evaluation -> 130 after $done_nets of 64 nets: $(cat "$tmp/err")"
fi

# ---- ensemble members draw their augmentation from their own seeds --------
# Member i of "--ensemble N --seed S" is the net "--seed S+i" trains alone,
# augmentation included, so members can be trained apart and voted with
# --load.  Needs images that augmentation changes: random pixels (raw IDX).
mkdir "$tmp/noise"
{ be32 2051; be32 60000; be32 28; be32 28; head -c $((60000 * 784)) /dev/urandom; } \
    >"$tmp/noise/train-images-idx3-ubyte"
cp "$tmp/mnist/t10k-images-idx3-ubyte" "$tmp/mnist/t10k-labels-idx1-ubyte" "$tmp/noise/"
gzip -dc "$tmp/mnist/train-labels-idx1-ubyte.gz" >"$tmp/noise/train-labels-idx1-ubyte"
small="modern --epochs 1 --train-size 40 --batch 20 --data $tmp/noise --quiet"
if "$exe" $small --ensemble 2 --seed 5 --save "$tmp/ens.cnnm" >"$tmp/out" 2>"$tmp/err" &&
    "$exe" $small --seed 5 --save "$tmp/s5.cnnm" >>"$tmp/out" 2>>"$tmp/err" &&
    "$exe" $small --seed 6 --save "$tmp/s6.cnnm" >>"$tmp/out" 2>>"$tmp/err"; then
    if cmp -s "$tmp/ens-1.cnnm" "$tmp/s5.cnnm" && cmp -s "$tmp/ens-2.cnnm" "$tmp/s6.cnnm"; then
        echo "ok: ensemble members 1 and 2 of --seed 5 are the nets of --seed 5 and --seed 6"
    else
        fail "ensemble members differ from the single runs of their seeds"
    fi
else
    fail "augmented ensemble runs failed: $(cat "$tmp/err")"
fi

# Every option of --help is in the manual page, as a whole word (roff
# spells '-' as '\-', undone first).
if [ -n "$man" ]; then
    "$exe" --help >"$tmp/help" 2>&1
    sed 's/\\-/-/g' "$man" >"$tmp/man.txt"
    missing=""
    for opt in $(grep -oE '^  --[a-z-]+' "$tmp/help"); do
        grep -qE -- "(^|[^A-Za-z0-9-])$opt([^A-Za-z0-9-]|\$)" "$tmp/man.txt" || missing="$missing $opt"
    done
    if [ -n "$missing" ]; then
        fail "the manual page lacks:$missing"
    else
        echo "ok: the manual page lists every option of --help"
    fi
fi

if [ $fails -ne 0 ]; then
    echo "FAIL: $fails checks failed"
    exit 1
fi
echo "PASS"
