"""contra's service: the detection pipeline and the rooms around it.

Here, the pipeline core: ``config``, ``claims``, ``validate``, ``detector`` (the one candidate search and
judging path) and ``wiring`` (the one place that builds everything from settings), and ``cli``.
Below it: ``judge/`` (is this pair a conflict?) and ``models/`` (embedders, NLI, their runtimes).
Above it: ``api/`` (gRPC) and ``batch/`` (compare jobs). ``tests/test_layers.py`` keeps the arrows one way.
"""
