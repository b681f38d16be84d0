"""The one way out to a target: the bounded client (budget, deadlines, read cap, retries) and the requests
session that puts schemathesis behind it. May import: model, settings.
"""
