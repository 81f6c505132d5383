#!/bin/sh
# A normal script; its answer names its request, so a crossed answer shows.
printf 'Content-Type: text/plain\r\n\r\nhello %s\n' "$QUERY_STRING"
