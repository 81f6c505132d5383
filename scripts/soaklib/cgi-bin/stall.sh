#!/bin/sh
# Headers and a first chunk, then silence: the body is cut after the timeout.
printf 'Content-Type: text/plain\n\nfirst\n'
exec sleep 300
