"""python -m zero.tiny RUN_DIR (zero.tiny.analysis)."""

from zero.tiny.analysis import main

raise SystemExit(main())
