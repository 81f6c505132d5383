#!/bin/sh
# A short nap, used to keep every server thread busy during the warm-up.
sleep 0.3
printf 'Content-Type: text/plain\n\nawake\n'
