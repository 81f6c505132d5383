#!/bin/sh
echo "first warning" >&2
printf 'Content-Type: text/plain\n\nbody\n'
printf 'second warning\nthird without newline' >&2
