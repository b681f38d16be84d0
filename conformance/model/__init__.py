"""The model every stage speaks: a request, its answer and what the run knew (exchange), a key in each form it
may take on the wire (keyforms), where the data files are (locations). Imports nothing of the suite.
"""
