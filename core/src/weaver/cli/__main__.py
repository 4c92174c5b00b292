"""``python -m weaver.cli``: the same as the ``weaver`` console script."""

from weaver.cli import main

main()
