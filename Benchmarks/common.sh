# Sourced by every benchmark from the repository root: the built tools, the Python with the
# peers' packages, summaries of repeated timings, and generated inputs made once.
BIN=.build/release
PY=.venv/bin/python

# The median of the numbers on standard input.
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# "median (min–max)" of the numbers on standard input, with a printf format for each.
spread() { sort -g | awk -v f="$1" '{a[NR]=$1} END {printf f " (" f "–" f ")", a[int((NR+1)/2)], a[1], a[NR]}'; }

# generated DATA WHAT COMMAND...: runs COMMAND, which writes DATA, unless an earlier run finished it
# (DATA/.complete); a run interrupted half-way starts over.
generated() {
  local data=$1 what=$2
  shift 2
  [ -f "$data/.complete" ] && return
  rm -rf "$data"
  echo "generating $what in $data ..."
  "$@" >/dev/null
  touch "$data/.complete"
}
