#!/bin/sh
# Sends its headers and a first chunk, then goes silent.
printf 'Content-Type: text/plain\n\nfirst\n'
exec sleep 300
