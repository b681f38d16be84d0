"""The pytest plugin and what `pytest conformance` collects: the session's run, property tests, per-rule tests,
exit status. May import every stage.
"""
