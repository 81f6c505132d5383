#!/bin/sh
# Silent past the timeout, with a backgrounded grandchild that holds stdout:
# 504, and both must die.
sleep 300 &
sleep 300
printf 'Content-Type: text/plain\n\nlate\n'
