#!/bin/sh
# Never reads its input.
printf 'Content-Type: text/plain\n\nignored the body\n'
