#!/bin/sh
echo "Content-Type: text/plain"; echo; echo "must never run"
