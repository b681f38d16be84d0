# The suite's pytest plugin is not named here: it is the installed package's `evermuse` entry point, which
# pyproject.toml's addopts loads first (-p evermuse). A conftest naming it again would register it twice.
