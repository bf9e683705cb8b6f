-- The raw layer of the warehouse. Written only by ingestion, read by dbt.
-- Timestamps are UTC (timestamptz). Ids are hex digests (see ingestion/ids.py).

create schema if not exists raw;

-- One row per configured source; replaced on every ingest of that source.
create table if not exists raw.sources (
    source_id        varchar primary key,     -- the source name from kc.yaml
    source_type      varchar not null,        -- documents | git | github
    uri              varchar not null,        -- folder path or repository URL
    tenant           varchar not null,
    acl_groups       varchar[] not null,
    route_override   varchar,                 -- volatile | static | excluded | null
    head_commit      varchar,                 -- git only
    config_hash      varchar not null,        -- hash of the source's settings
    ingested_at      timestamptz not null     -- last completed ingest of this source
);

-- One row per file ever seen; is_deleted marks files the source no longer has.
create table if not exists raw.documents (
    document_id          varchar primary key, -- hash(source_id, path)
    source_id            varchar not null,
    path                 varchar not null,    -- relative to the source root
    format               varchar not null,    -- md | txt | html | pdf | docx | ipynb | code
    title                varchar,
    current_content_hash varchar,             -- null after deletion
    first_seen_at        timestamptz not null,
    is_deleted           boolean not null,
    deleted_at           timestamptz
);

-- One row per distinct content of a document: a new content hash is a new version.
create table if not exists raw.document_versions (
    document_id      varchar not null,
    content_hash     varchar not null,        -- sha256 of the file's bytes
    version_number   integer not null,        -- 1, 2, ... per document
    observed_at      timestamptz not null,    -- when ingestion first saw this content
    modified_at      timestamptz not null,    -- file mtime, or last commit touching it (git)
    size_bytes       bigint not null,
    n_chunks         integer not null,
    secrets_redacted integer not null,
    pii_redacted     integer not null,
    redactions       json not null,           -- counts per kind; never the values
    primary key (document_id, content_hash)
);

-- Chunks of the current version of every live document.
create table if not exists raw.chunks (
    chunk_id      varchar primary key,        -- hash(document_id, content_hash, chunk_index)
    document_id   varchar not null,
    content_hash  varchar not null,
    chunk_index   integer not null,
    section       varchar not null,           -- heading path, "A > B"
    text          varchar not null,           -- scrubbed text
    n_tokens      integer not null,
    element_types varchar[] not null
);

create table if not exists raw.git_commits (
    source_id     varchar not null,
    commit_sha    varchar not null,
    committed_at  timestamptz not null,
    authored_at   timestamptz not null,
    author_name   varchar not null,
    author_hash   varchar not null,           -- hash of the author email; the email is PII
    message       varchar not null,           -- first line, scrubbed
    files_changed integer not null,
    primary key (source_id, commit_sha)
);

create table if not exists raw.git_file_changes (
    source_id     varchar not null,
    commit_sha    varchar not null,
    path          varchar not null,
    document_id   varchar not null,           -- hash(source_id, path), whether or not indexed
    committed_at  timestamptz not null,
    lines_added   integer,                    -- null for binary files
    lines_removed integer,
    primary key (source_id, commit_sha, path)
);

-- Current failures per source: replaced on every ingest of that source.
create table if not exists raw.ingest_failures (
    source_id       varchar not null,
    path            varchar not null,
    content_hash    varchar,                  -- null when the file could not be read
    reason          varchar not null,
    exception_class varchar not null,
    observed_at     timestamptz not null,
    primary key (source_id, path)
);

-- GitHub sources (ingestion/github). Each repository a github source lists is a source of its
-- own, <source>--<repo>, in raw.sources (source_type github), so its access groups travel
-- with its documents like any source's. These tables hold what the next run needs, written
-- in the repository's own transaction. No issue or comment text is stored here: that lives
-- only scrubbed, in raw.chunks.
create table if not exists raw.github_repos (
    repo_source_id        varchar primary key,  -- <source>--<repo>: the repository's source id
    source_id             varchar not null,     -- the github source from kc.yaml
    full_name             varchar not null,     -- owner/name on GitHub
    visibility            varchar not null,     -- public | private | internal
    teams                 varchar[],            -- team slugs; null when the token cannot read them
    acl_groups            varchar[] not null,   -- as mapped by github.access
    default_branch        varchar,
    html_url              varchar not null,
    issues_since          varchar,              -- newest updated_at seen per listing:
    comments_since        varchar,              --   the next run asks since= it
    review_comments_since varchar
);

-- One row per issue or pull request (its text is the document at `path`).
create table if not exists raw.github_items (
    source_id    varchar not null,              -- <source>--<repo>
    number       integer not null,
    kind         varchar not null,              -- issue | pull
    document_id  varchar not null,              -- hash(source_id, path)
    path         varchar not null,              -- _github/issues/N.md | _github/pulls/N.md
    state        varchar not null,              -- open | closed (a merged pull is closed)
    labels       varchar[] not null,
    updated_at   timestamptz not null,
    closed_at    timestamptz,
    merged_at    timestamptz,
    html_url     varchar not null,
    primary key (source_id, number)
);

-- CODEOWNERS at the ingested commit: the owners of each file of a repository.
create table if not exists raw.document_owners (
    document_id  varchar primary key,           -- hash(source_id, path)
    source_id    varchar not null,
    path         varchar not null,
    owners       varchar[] not null,            -- @user, @org/team, or email:<hash>; [] = unowned
    rule         varchar                        -- the CODEOWNERS pattern that decided
);

-- ETags of the REST responses a github source used last time: conditional requests cost no
-- rate limit when GitHub answers 304. Bodies are kept only where a 304 must be answered from
-- them (repository and team listings), never for issues or comments.
create table if not exists raw.github_http_cache (
    source_id    varchar not null,              -- the github source or one of its repositories
    url          varchar not null,
    etag         varchar not null,
    link         varchar,
    body         varchar not null,
    primary key (source_id, url)
);
