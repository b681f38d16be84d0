"""What the run does to a target, as data and in order: scenarios (batches with known content), probes,
the campaign that sends them, the recorder of every exchange. May import: model, settings, client.
"""
