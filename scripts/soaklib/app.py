"""The WSGI application the soak's server loads: a CGIDirectory of the soak
scripts, configured from the server's environment (SOAK_ROOT, SOAK_TIMEOUT,
SOAK_TAG).  Each script gets ``SOAK_CHILD=<tag>`` in its environment, so the
soak can find every process of the run in /proc, grandchildren included."""

import os

from wsgicgi import CGIDirectory

app = CGIDirectory(
    os.environ["SOAK_ROOT"],
    timeout=float(os.environ.get("SOAK_TIMEOUT", "1")),
    env={"SOAK_CHILD": os.environ["SOAK_TAG"]},
)
