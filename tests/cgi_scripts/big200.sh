#!/bin/sh
# big.sh with 200 MiB, for the real-server download test.
SIZE=209715200 exec ./big.sh
