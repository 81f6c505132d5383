#!/bin/sh
echo "Content-Type: text/plain"; echo; echo "dotfile must never run"
