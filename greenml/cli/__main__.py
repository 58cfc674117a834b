"""``python -m greenml.cli``: the greenml command without its console script."""

from greenml.cli import main

raise SystemExit(main())
