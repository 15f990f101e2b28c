# Sourced by the MPI test scripts: the mpirun command line and, for
# sanitized builds, the leak-check setup (lsan-openmpi.supp says why).
# As root Open MPI refuses to start without --allow-run-as-root; more ranks
# than cores need --oversubscribe, and --bind-to none keeps ranks from being
# pinned to a core another test is using; mpi_yield_when_idle makes a rank
# waiting in a collective yield its core instead of spinning on it (on a
# shared machine spinning ranks starve the very rank they wait for).
MPIRUN=(mpirun --oversubscribe --bind-to none --mca mpi_yield_when_idle 1)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$here/lsan-openmpi.supp:print_suppressions=0"
