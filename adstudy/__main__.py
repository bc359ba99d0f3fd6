"""python -m adstudy: the same as the adstudy command."""
import sys

from adstudy.cli import main

sys.exit(main())
