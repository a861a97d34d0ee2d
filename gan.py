"""The seed's own command: `python gan.py --num-steps 1000 --minibatch True`.

Runs `tinygan train` with the same flags (install tinygan first).
"""

import sys

from tinygan.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
