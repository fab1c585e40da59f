"""`build` and `export`: the steps in order into one folder, written whole or not at all.

    run       run_build, run_export: load, elaborate, check, render, cost, compile, export,
              targets, write, as one sequence of typed steps
    options   BuildOptions and Hooks (frozen), and the option checks before any step
    steps     the step runner: hooks, timing, notes
    outdir    the staging folder and its swap into place
    memory    the memory estimate, checked before the steps that need it
    manifest  manifest.json
"""
