#!/bin/sh
# Usage: check.sh SOURCE "expected message" COMPILER [ARGS...]
# Passes when compiling SOURCE fails and the diagnostics contain the expected one-sentence message.
source=$1
expected=$2
shift 2
output=$("$@" -fsyntax-only "$source" 2>&1)
if [ $? -eq 0 ]; then
    echo "compiled, but must not: $source"
    exit 1
fi
if printf '%s' "$output" | grep -qF -- "$expected"; then
    exit 0
fi
echo "failed to compile as expected, but without the message: $expected"
printf '%s\n' "$output" | head -20
exit 1
