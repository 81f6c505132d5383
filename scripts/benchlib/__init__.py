"""The pieces of ``scripts/bench``: ``gateway`` (issue 2), ``host`` (issue 3)
and ``serve`` (issue 4).  A benchmark, not a test: it prints what it measured
and whether each target of the issues is met, and never fails on a miss."""
