"""``python -m r3d_teach ...`` runs the ``r3d`` command (:func:`r3d_teach.cli.main`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
