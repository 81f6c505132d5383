#!/usr/bin/python3
"""Writes the raw bytes of $RESPONSE (base64) or of the file $RESPONSE_FILE
to stdout, then exits with $EXIT."""

import base64
import os
import sys

if "RESPONSE_FILE" in os.environ:
    with open(os.environ["RESPONSE_FILE"], "rb") as f:
        sys.stdout.buffer.write(f.read())
else:
    sys.stdout.buffer.write(base64.b64decode(os.environ.get("RESPONSE", "")))
sys.stdout.flush()
sys.exit(int(os.environ.get("EXIT", "0")))
