"""The gateway's ``wsgi.file_wrapper`` fast path: ``os.sendfile`` to stdout.

Imported only when an application returns a file wrapper.
"""

import os

__all__ = ["send_file_wrapper"]

_BLOCK = 1 << 20


def send_file_wrapper(response, wrapper):
    """Send ``wrapper``'s file on the gateway ``response`` with
    ``os.sendfile``; False (nothing sent) when the platform or the
    descriptors do not allow it, and the caller iterates instead."""
    sendfile = getattr(os, "sendfile", None)
    if sendfile is None or response.status is None or response.head:
        return False
    try:
        in_fd = wrapper.filelike.fileno()
        out_fd = response.out.fileno()
        offset = wrapper.filelike.tell()
    except (AttributeError, OSError, ValueError):
        return False
    response.send(b"")
    count = response.remaining
    while count is None or count > 0:
        try:
            sent = sendfile(out_fd, in_fd, offset, _BLOCK if count is None else min(count, _BLOCK))
        except BrokenPipeError:
            raise
        except OSError:
            if response.sent == 0:
                # Not supported for these descriptors (EINVAL, ENOSYS…).
                wrapper.filelike.seek(offset)
                return _iterate(response, wrapper)
            raise
        if sent == 0:
            break
        offset += sent
        response.sent += sent
        if count is not None:
            count -= sent
            response.remaining = count
    wrapper.filelike.seek(offset)
    return True


def _iterate(response, wrapper):
    for chunk in wrapper:
        response.send(chunk)
        if response.done:
            break
    response.finish()
    return True
