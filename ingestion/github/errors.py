"""Errors a GitHub source can raise. Whole-source errors stop that source (the other sources
are still ingested); a repository's error becomes a row in raw.ingest_failures."""


class GitHubError(RuntimeError):
    """GitHub could not be read; the message names the URL and what to do."""


class GitHubAuthError(GitHubError):
    """401: the token is wrong, expired or revoked."""


class GitHubNotFound(GitHubError):
    """404: the organisation, user or repository does not exist or the token cannot see it."""


class GitHubForbidden(GitHubError):
    """403 that is not a rate limit: the token lacks a permission."""


class GitHubRateLimited(GitHubError):
    """The rate limit asks for a longer wait than this run allows."""


class MissingToken(GitHubError):
    """The environment variable named by github.token_env is not set."""
