#!/usr/bin/env bash
# libcnn-mpi's suite (meson test --suite mpi):
#   1. test_mpi under mpirun -np 2 and -np 3 (its own "N passed, N failed");
#   2. kill -9 of one rank mid-run: the job must stop within seconds with a
#      non-zero status and a message naming the killed process, never hang;
#   3. resuming that job from its last checkpoint must give a final model
#      byte-identical to an uninterrupted run with the same rank count.
# Prints "N passed, N failed"; exits 77 (meson: SKIP) without mpirun.
# Usage: run_mpi_tests.sh TEST_MPI MPI_RESUME
set -uo pipefail
test_mpi=$1 resume=$2
if ! command -v mpirun >/dev/null; then
  echo "SKIP: mpirun not found (apt-get install openmpi-bin)"; exit 77
fi
. "$(dirname "$0")/mpienv.sh"   # MPIRUN, sanitizer settings
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for np in 2 3; do
  out=$(timeout 300 "${MPIRUN[@]}" -np "$np" "$test_mpi" "$work" 2>&1); rc=$?
  echo "$out" | grep -E '^(ok|FAIL) '
  line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
  if [ -z "$line" ] || [ "$rc" -ne 0 ]; then
    echo "$out" | tail -20
    bad "test_mpi -np $np exited $rc without a clean summary"
  fi
  passed=$((passed + $(echo "${line:-0 passed, 0 failed}" | awk '{print $1}')))
  failed=$((failed + $(echo "${line:-0 passed, 0 failed}" | awk '{print $3}')))
done

# Uninterrupted reference: 6 epochs on 2 ranks.
ref=$work/ref run=$work/run
mkdir -p "$ref" "$run"
if timeout 300 "${MPIRUN[@]}" -np 2 "$resume" "$ref" 6 >"$ref/log" 2>&1 && [ -f "$ref/final.cnn" ]; then
  ok "reference run of 6 epochs on 2 ranks"
else
  tail -20 "$ref/log"; bad "reference run of 6 epochs on 2 ranks"
fi

# The same job, rank 1 killed once epoch 2 is checkpointed.
"${MPIRUN[@]}" -np 2 "$resume" "$run" 6 >"$run/log" 2>&1 &
job=$!
for _ in $(seq 600); do [ -f "$run/epoch.2" ] && break; sleep 0.1; done
if [ -f "$run/epoch.2" ] && [ -f "$run/pid.1" ]; then
  kill -9 "$(cat "$run/pid.1")"
  t0=$(date +%s%N)
  for _ in $(seq 300); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$job" 2>/dev/null; then
    kill -9 "$job"; bad "job still running 30 s after kill -9 of rank 1 (hang)"
  else
    wait "$job"; rc=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ "$rc" -ne 0 ] && grep -qiE 'signal 9|killed' "$run/log"; then
      ok "kill -9 of rank 1 stops the job in ${ms} ms with status $rc and a message"
      grep -iE 'signal 9|killed' "$run/log" | head -2 | sed 's/^/     /'
    else
      tail -20 "$run/log"; bad "after kill -9 of rank 1: status $rc, message missing"
    fi
  fi
else
  tail -20 "$run/log"; bad "the run never reached epoch 2"; kill -9 "$job" 2>/dev/null
fi
[ -f "$run/final.cnn" ] && bad "the killed run finished anyway (kill came too late)"

# Resume from the last checkpoint: the same bytes as the uninterrupted run.
last=$(ls "$run" | sed -n 's/^epoch\.//p' | sort -n | tail -1)
if timeout 300 "${MPIRUN[@]}" -np 2 "$resume" "$run" 6 resume >"$run/log2" 2>&1 \
   && cmp -s "$ref/final.cnn" "$run/final.cnn"; then
  ok "resumed after epoch ${last:-?} on 2 ranks: final model identical to the uninterrupted run"
else
  tail -20 "$run/log2"; bad "resumed run differs from the uninterrupted one (or failed)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
