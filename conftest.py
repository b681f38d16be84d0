pytest_plugins = ["conformance.pytest.plugin"]
