import sys

from pathkv.cli import main

sys.exit(main())
