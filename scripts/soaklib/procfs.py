"""What /proc says about a server process: open fds, threads, children, RSS,
and which processes carry a given environment entry (the run's tag)."""

import os


def _stat_fields(pid):
    # The command name may hold spaces and parentheses: split after the last ")".
    with open("/proc/%d/stat" % pid, "rb") as f:
        data = f.read()
    return data[data.rindex(b")") + 2 :].split()


def parent(pid):
    """The parent pid of ``pid``."""
    return int(_stat_fields(pid)[1])


def state(pid):
    """The one-letter state of ``pid`` ("Z" for a zombie)."""
    return _stat_fields(pid)[0].decode()


def _pids():
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def children(pid):
    """The pids whose parent is ``pid`` (zombies included), sorted."""
    found = []
    for other in _pids():
        try:
            if parent(other) == pid:
                found.append(other)
        except (OSError, ValueError, IndexError):
            pass  # gone meanwhile
    return sorted(found)


def status_field(pid, name):
    """An integer field of /proc/PID/status (``Threads``, ``VmRSS`` in kB)."""
    prefix = name.encode() + b":"
    with open("/proc/%d/status" % pid, "rb") as f:
        for line in f:
            if line.startswith(prefix):
                return int(line.split()[1])
    raise KeyError(name)


def fds(pid):
    """``{fd: target}`` of the open file descriptors of ``pid``."""
    out = {}
    base = "/proc/%d/fd" % pid
    for name in os.listdir(base):
        try:
            out[int(name)] = os.readlink(os.path.join(base, name))
        except OSError:
            pass
    return out


def tagged(entry):
    """The pids whose environment holds ``entry`` (bytes, ``NAME=value``)."""
    needle = b"\0" + entry + b"\0"
    found = []
    for pid in _pids():
        if pid == os.getpid():
            continue
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                data = b"\0" + f.read()
        except OSError:
            continue
        if needle in data or data.endswith(b"\0" + entry):
            found.append(pid)
    return sorted(found)


class Snapshot:
    """fds, threads, children and RSS of each process of a server's tree."""

    def __init__(self, pids):
        self.pids = list(pids)
        self.fds = {}
        self.threads = {}
        self.children = {}
        self.rss = {}
        for pid in self.pids:
            self.fds[pid] = fds(pid)
            self.threads[pid] = status_field(pid, "Threads")
            self.children[pid] = children(pid)
            self.rss[pid] = status_field(pid, "VmRSS")

    def totals(self):
        return {
            "fds": sum(len(v) for v in self.fds.values()),
            "threads": sum(self.threads.values()),
            "children": sum(len(v) for v in self.children.values()),
            "rss_kib": sum(self.rss.values()),
        }

    def same_as(self, base):
        """True when fds, threads and children match ``base`` per process
        (the workers of a gunicorn master must be the very same pids)."""
        return all(
            len(self.fds[pid]) == len(base.fds[pid])
            and self.threads[pid] == base.threads[pid]
            and self.children[pid] == base.children[pid]
            for pid in self.pids
        )
