#!/usr/bin/env python3
"""Regenerate the ADDES paper's tables and figures: `python run_all.py --suite stackoverflow`.

Thin by design: all logic lives in bench/ (see bench/cli.py for the options).
"""

import sys

from bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
