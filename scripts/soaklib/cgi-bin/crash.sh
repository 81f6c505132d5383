#!/bin/sh
# Fails before any output: 502.
echo "crash.sh: failing on purpose" >&2
exit 3
