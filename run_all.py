#!/usr/bin/env python3
"""Regenerate the ADDES paper's tables and figures: `python run_all.py --suite stackoverflow`.

Thin by design: all logic lives in bench/ (see bench/cli.py for the options).
"""

import sys

from bench.kernels import pin_if_compared

pin_if_compared(sys.argv[1:])  # before torch is imported: it picks its kernels once

from bench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
