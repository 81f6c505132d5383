#!/bin/sh
# A 100 KB header line, past the 64 KiB limit on a response head: 502.
printf 'Content-Type: text/plain\nX-Huge: '
head -c 100000 /dev/zero | tr '\0' h
printf '\n\nnever sent\n'
