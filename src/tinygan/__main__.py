"""`python -m tinygan` is the `tinygan` command."""

from tinygan.cli import main
from tinygan_launch import finish

finish(main())
