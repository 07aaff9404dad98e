"""The models and their runtimes: sentence embedders (torch and int8 ONNX), the NLI cross-encoder, the
micro-batcher, the NLI cache, per-model time accounting and the store's vector-space check.

May import ``contra.domain``, ``contra.errors``, ``contra.index`` and ``contra.service.config``; never the
judge, the pipeline, ``api``, ``batch`` or the CLI.
"""
