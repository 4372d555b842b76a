"""Route studies (``srdistill study``): every route on one base, for several seeds, at one budget.

The study drives runs only through the engine's public entry points: ``engine.train.train``,
``engine.compare.compare`` and the FLOPs of ``engine.cost``, over parts from ``engine.build.build``.
"""
