"""Stopping a server started with ``start_new_session=True``."""

import os
import signal
import subprocess


def stop(proc, sig=signal.SIGTERM, timeout=10.0, group=False):
    """``sig`` to the server (SIGTERM: httpd stops its children; SIGQUIT:
    nginx's graceful stop), or with ``group`` to its whole process group,
    up to ``timeout`` seconds for it to exit, then SIGKILL to anything left
    in its process group, and reap it."""
    try:
        if group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        proc.wait(timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
