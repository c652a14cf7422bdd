"""Offline paired evaluation before any traffic moves (the plan's `evaluate:` section).

    spec     the plan section: command, dataset, timeout, gates (metric + margin)
    scores   what an eval command prints -> per-item scores (strict; accepted shapes)
    command  run the command once per variant (environment as rollout.metrics.command)
    paired   the paired non-inferiority test (t bound; exact sign test too for n < 30)
    judge    both variants' scores -> a verdict per gate and one outcome
    step     the engine's `evaluate` step (pure): pass -> preflight; else stopped, no traffic
    checks   load-time checks (dataset, cwd, program), located, exit 2
    online   late outcomes and noisy judges for online quality gates (design + helpers)

Light on purpose: `rollout.spec` imports `spec`, and `rollout --help` imports no numpy.
"""
