#!/bin/sh
# The smallest CGI script: one header, a blank line, a body.
echo "Content-Type: text/plain"
echo
echo "hello from sh"
