"""What the docs promise and how an exchange is held to it: catalogue, contract, latitudes, the checks,
the checker, and the one verdict stage (with known deviations and fingerprints). May import: model, settings.
"""
