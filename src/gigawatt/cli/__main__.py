"""``python -m gigawatt.cli``: the same as the ``gigawatt`` command."""

from gigawatt.cli import main

main()
