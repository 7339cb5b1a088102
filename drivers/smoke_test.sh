#!/bin/sh
# Driver tests (drivers/meson.build runs them):
#   smoke_test.sh run OUTDIR FILE... -- DRIVER ARG...
#       DRIVER ARG... --out OUTDIR exits 0 and writes every FILE in OUTDIR; a FILE written as
#       ?name.png is required only when gnuplot is installed (figures are optional).
#   smoke_test.sh reject DRIVER ARG...
#       DRIVER ARG... exits with status 2 and exactly one line on stderr, "<driver>: error: ...".
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }

mode=${1:-}
[ $# -gt 0 ] && shift
case "$mode" in
run)
    out=$1; shift
    files=""
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do files="$files $1"; shift; done
    [ $# -gt 0 ] || fail "missing -- before the driver"
    shift
    rm -rf "$out"
    "$@" --out "$out" || fail "exit status $? from: $* --out $out"
    for f in $files; do
        case "$f" in
        \?*)
            f=${f#\?}
            command -v gnuplot >/dev/null 2>&1 || continue ;;
        esac
        [ -s "$out/$f" ] || fail "$out/$f was not written"
    done
    if [ -f "$out/summary.json" ] && command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$out/summary.json" ||
            fail "$out/summary.json is not valid JSON"
    fi
    # temporaries end in .tmp<PID>, hidden (.name.csv.tmp123) or not (loss.png.tmp123)
    leftovers=$(find "$out" -name '*.tmp*' | head -n 1)
    [ -z "$leftovers" ] || fail "temporary file left behind: $leftovers"
    ;;
reject)
    err=$(mktemp)
    "$@" >/dev/null 2>"$err"
    status=$?
    lines=$(wc -l <"$err")
    message=$(cat "$err")
    rm -f "$err"
    [ "$status" -eq 2 ] || fail "exit status $status (expected 2) from: $*; stderr: $message"
    [ "$lines" -eq 1 ] || fail "$lines lines on stderr (expected 1) from: $*; stderr: $message"
    case "$message" in
    *": error: "*) echo "$message" ;;
    *) fail "no '<driver>: error: ...' line from: $*; stderr: $message" ;;
    esac
    ;;
*)
    fail "usage: smoke_test.sh run|reject ..."
    ;;
esac
exit 0
