#!/bin/sh
# An endless body: only the client going away ends it (the host must then
# kill it, or it runs for ever).
printf 'Content-Type: application/octet-stream\r\n\r\n'
exec cat /dev/zero
