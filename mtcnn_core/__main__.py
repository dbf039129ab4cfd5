import sys

from .tools.cli import exiting, main

sys.exit(exiting(main()))
