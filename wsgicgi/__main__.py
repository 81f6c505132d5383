"""``python -m wsgicgi APP [SCRIPT]`` and ``python -m wsgicgi serve``."""

from wsgicgi.cli import main

main()
