#!/bin/sh
# POST echo: the request body back (the host closes stdin after CONTENT_LENGTH).
printf 'Content-Type: application/octet-stream\r\nX-Length: %s\r\n\r\n' "${CONTENT_LENGTH:-0}"
exec cat
