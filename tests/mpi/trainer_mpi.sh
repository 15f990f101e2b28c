#!/usr/bin/env bash
# cnn-mnist-mpi on real MNIST (a 600-image slice, 1 epoch; about a minute):
#   1. ensemble-parallel: 3 nets over 2 and over 3 ranks print the same
#      ensemble summary (accuracy, errors, members, disagreements) as
#      cnn-mnist training the 3 nets in one process;
#   2. data-parallel on 2 ranks: one summary from rank 0 only, naming the
#      rank count and the per-rank throughput, and --require-accuracy met;
#   3. a bad command line exits 2 on every rank, without MPI_Abort.
# usage: trainer_mpi.sh CNN_MNIST CNN_MNIST_MPI [MNIST_DIR]
# Exits 77 (meson: SKIP) without mpirun or without the MNIST files.
set -uo pipefail
plain=$1 mpi=$2 dir=${3:-${CNN_MNIST_DIR:-data/mnist}}
command -v mpirun >/dev/null || { echo "SKIP: mpirun not found (apt-get install openmpi-bin)"; exit 77; }
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ ! -f "$dir/$f" ] && [ ! -f "$dir/$f.gz" ]; then
    echo "SKIP: $dir/$f not found (run scripts/fetch-mnist)"; exit 77
  fi
done
. "$(dirname "$0")/mpienv.sh"   # MPIRUN, sanitizer settings
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
common=(6 --train-size 600 --epochs 1 --ensemble 3 --quiet --threads 1 --data "$dir")
summary() { grep -E '^(ensemble of|members disagreed)'; }

want=$("$plain" "${common[@]}" 2>&1 | summary)
[ -n "$want" ] || bad "cnn-mnist printed no ensemble summary"
for np in 2 3; do
  out=$(timeout 600 "${MPIRUN[@]}" -np "$np" "$mpi" "${common[@]}" 2>&1); rc=$?
  got=$(echo "$out" | summary)
  if [ "$rc" -eq 0 ] && [ -n "$want" ] && [ "$got" = "$want" ] \
     && echo "$out" | grep -q "^mpi: $np ranks, ensemble-parallel"; then
    ok "ensemble of 3 over $np ranks prints cnn-mnist's summary: $(echo "$got" | head -1 | sed 's/.*test accuracy //')"
  else
    echo "$out" | tail -15; echo "want: $want"; bad "ensemble of 3 over $np ranks (status $rc)"
  fi
done

out=$(timeout 600 "${MPIRUN[@]}" -np 2 "$mpi" 6 --train-size 600 --epochs 1 --batch 4 --eta 0.05 \
      --init he --quiet --data "$dir" --require-accuracy 0.6 2>&1); rc=$?
if [ "$rc" -eq 0 ] && [ "$(echo "$out" | grep -c 'reported test accuracy')" = 1 ] \
   && echo "$out" | grep -qE '^mpi: 2 ranks, data-parallel: [0-9]+ img/s in all, [0-9]+ img/s per rank'; then
  ok "data-parallel on 2 ranks: one summary, $(echo "$out" | grep '^mpi:')"
else
  echo "$out" | tail -15; bad "data-parallel on 2 ranks (status $rc)"
fi

out=$(timeout 120 "${MPIRUN[@]}" -np 2 "$mpi" --epochs nope 2>&1); rc=$?
if [ "$rc" = 2 ] && ! echo "$out" | grep -q MPI_ABORT; then
  ok "a bad command line exits 2 on every rank, no MPI_Abort"
else
  echo "$out" | tail -10; bad "bad command line: status $rc"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
