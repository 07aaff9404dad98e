"""The judge: whether two claims conflict, of what kind, how surely, and where.

Exact checks of figures (``figures``, ``numbers``), the same-event test, stance cues and the calibrated
combination of them with the NLI model's probabilities (``judge``, ``calibration``). May import
``contra.domain``, ``contra.errors``, ``contra.service.config`` and ``contra.service.models``; never the
pipeline above it, ``api``, ``batch`` or the CLI.
"""
