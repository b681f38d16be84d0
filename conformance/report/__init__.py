"""What people and machines read: the failure shape and curl lines (render), redaction, the drift report.
May import: model, settings, client, rules. (The client fetches the published document on the run's bounds.)
"""
