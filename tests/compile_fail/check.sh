#!/bin/sh
# Usage: check.sh SOURCE "expected message" COMPILER [ARGS...]
# Passes when compiling SOURCE fails and the first error the compiler reports contains the
# expected one-sentence message: that sentence is what the user reads first, not a line buried
# under template instantiation errors. With MAX_LINES set, the whole compiler output must also be
# at most that many lines.
source=$1
expected=$2
shift 2
output=$("$@" -fsyntax-only "$source" 2>&1)
if [ $? -eq 0 ]; then
    echo "compiled, but must not: $source"
    exit 1
fi
first_error=$(printf '%s\n' "$output" | grep -m 1 -F -- 'error:')
lines=$(printf '%s\n' "$output" | wc -l)
if printf '%s' "$first_error" | grep -qF -- "$expected"; then
    if [ -n "${MAX_LINES:-}" ] && [ "$lines" -gt "$MAX_LINES" ]; then
        echo "the message comes first, but the compiler wrote $lines lines (at most $MAX_LINES wanted)"
        printf '%s\n' "$output" | head -40
        exit 1
    fi
    exit 0
fi
if printf '%s' "$output" | grep -qF -- "$expected"; then
    echo "the message is there, but not in the first error: $expected"
    echo "first error: $first_error"
else
    echo "failed to compile as expected, but without the message: $expected"
fi
printf '%s\n' "$output" | head -20
exit 1
