"""``python -m juicedb.cli`` runs the command line."""

from juicedb.cli.main import main

main()
