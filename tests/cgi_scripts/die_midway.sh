#!/bin/sh
# Dies (SIGKILL) after its headers and part of the body.
printf 'Content-Type: text/plain\n\npartial'
kill -9 $$
