#!/bin/sh
# A legacy CGI script in POSIX sh: greets ?name=, echoes a POST body back.
printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
name=$(printf '%s' "$QUERY_STRING" | sed -n 's/^\(.*&\)\{0,1\}name=\([^&]*\).*$/\2/p')
echo "Hello, ${name:-world}, from a shell script."
echo "REQUEST_METHOD=$REQUEST_METHOD"
echo "SCRIPT_NAME=$SCRIPT_NAME"
echo "PATH_INFO=${PATH_INFO-}"
echo "QUERY_STRING=$QUERY_STRING"
if [ "$REQUEST_METHOD" = POST ]; then
    echo "CONTENT_TYPE=${CONTENT_TYPE-}"
    echo "CONTENT_LENGTH=${CONTENT_LENGTH:-0}"
    echo "--- body ---"
    # RFC 3875 §4.2: read exactly CONTENT_LENGTH bytes, no more.
    head -c "${CONTENT_LENGTH:-0}"
    echo
fi
