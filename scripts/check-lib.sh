# Sourced by scripts/test-installed and scripts/test-debian: one check
# and its RESULT line, as scripts/test-bindings adds them up.

# one NAME COMMAND...: runs COMMAND with its output in $work/NAME.log and
# prints "RESULT NAME 1 0" if it succeeded, else its log's tail and
# "RESULT NAME 0 1".  Needs $work, the caller's scratch directory.
one() {
  local name=$1; shift
  if "$@" >"$work/$name.log" 2>&1; then
    echo "RESULT $name 1 0"
  else
    echo "--- $name failed:"; tail -30 "$work/$name.log"
    echo "RESULT $name 0 1"
  fi
}
