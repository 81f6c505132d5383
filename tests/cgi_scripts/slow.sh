#!/bin/sh
# Headers only after $DELAY seconds, with a backgrounded grandchild that
# holds stdout open the whole time.
sleep 300 &
echo $! > "${PIDFILE:-/dev/null}"
sleep "${DELAY:-300}"
printf 'Content-Type: text/plain\n\nlate\n'
