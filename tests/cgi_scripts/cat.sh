#!/bin/sh
# Echoes its input as it reads it: the head at once, then cat.
printf 'Content-Type: application/octet-stream\r\n\r\n'
exec cat
