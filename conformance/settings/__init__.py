"""What the run was asked to do: each setting resolved option > environment > ini > default, with its source.
May import: model.
"""
