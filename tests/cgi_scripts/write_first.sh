#!/bin/sh
# Writes 4 MB before it reads its input: a host that feeds stdin and reads
# stdout in turn would deadlock here.
printf 'Content-Type: text/plain\n\n'
head -c 4000000 /dev/zero | tr '\0' 'a'
echo
wc -c | tr -d ' '
