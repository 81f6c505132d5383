#!/bin/sh
# 1 MiB of zeros, read to the end by the client.
printf 'Content-Type: application/octet-stream\r\n\r\n'
exec head -c 1048576 /dev/zero
