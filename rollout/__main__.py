from __future__ import annotations

from rollout.cli import main

raise SystemExit(main())
