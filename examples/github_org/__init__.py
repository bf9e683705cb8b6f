"""A GitHub organisation served by a local stand-in (``server.GitHubStandIn``), for the tests
and ``make demo-github``."""
