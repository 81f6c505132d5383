"""The soak (issue 5): many concurrent requests of every kind, good and bad,
through CGIDirectory under a real WSGI server, then proof that the server's
file descriptors, threads, child processes and memory are back where they
started.  Run it as ``scripts/soak``; ``scripts/soak --help`` lists the options.
"""
