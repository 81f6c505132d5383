#!/bin/sh
# Killed after its headers and part of the body: the body ends there.
printf 'Content-Type: text/plain\n\npartial'
kill -9 $$
