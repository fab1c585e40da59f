"""`resnet-spec sweep`: a design space around a spec, costed statically, its Pareto front
optionally measured.

`space.py` gives the variants (a grid over `--set` paths, or RegNet's design space sampled as
pycls samples it), each a list of `--set` overrides with a stable index; `costing.py` costs
them (params, MACs, activations: what `summary` says) in worker processes without torch;
`where.py` reads the constraints; `front.py` finds the Pareto front; `report.py` writes the
CSV, JSON, the front's specs and the plots. Nothing here imports torch: `--measure` times the
front through `bench`'s worker processes.
"""
