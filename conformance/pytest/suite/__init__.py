"""The conformance suite itself: `pytest conformance` collects these modules."""
