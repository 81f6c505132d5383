#!/bin/sh
# Streams $SIZE bytes (default 1 MiB) of zeros.
printf 'Content-Type: application/octet-stream\n\n'
exec head -c "${SIZE:-1048576}" /dev/zero
