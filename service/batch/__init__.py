"""Batch comparison jobs (``contra compare``): corpus loading, the job, its Ray engine and the HTML report.

Finds candidates through the pipeline's own search (``contra.service.detector``), so Check and compare
change together. Uses the pipeline and below; never ``api`` or the CLI. Nothing below imports it.
"""
