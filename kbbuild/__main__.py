"""``python -m kbbuild``: the same CLI as the ``kbbuild`` script, for environments without it on PATH."""

from kbbuild.cli.app import main

main()
