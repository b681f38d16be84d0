"""The conformance run: settings, the HTTP client, scenarios, probes and polling, independent of pytest."""
