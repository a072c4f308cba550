"""``python -m eams.cli``: the same CLI as the ``eams`` console script."""

from eams.cli.app import main

main()
