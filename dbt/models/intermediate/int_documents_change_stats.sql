-- Change history of every live document, as of var as_of.
--
-- A change event is a version's modified_at (documents folders: the file's mtime; git: the last
-- commit touching the file) or a git_file_changes.committed_at. Both kinds are unioned per
-- document and deduplicated on the instant, so a git file's version and the commit behind it
-- count once. The first version is an event too: a file created 3 days ago "changed 3 days ago".
-- Windows are (as_of - N days, as_of]; events stamped after as_of (clock skew) count as recent.
with

documents as (

    select * from {{ ref('stg_raw__documents') }}

),

sources as (

    select * from {{ ref('stg_raw__sources') }}

),

versions as (

    select * from {{ ref('stg_raw__document_versions') }}

),

file_changes as (

    select * from {{ ref('stg_raw__git_file_changes') }}

),

as_of as (

    select {{ kc_as_of() }} as as_of

),

live_documents as (

    select
        documents.document_id,
        documents.source_id,
        sources.tenant,
        sources.source_type,
        documents.path,
        documents.format,
        documents.title,
        documents.current_content_hash,
        documents.first_seen_at as ingested_first_seen_at

    from documents
    inner join sources on documents.source_id = sources.source_id
    where not documents.is_deleted

),

change_events as (

    select document_id, modified_at as changed_at from versions
    union
    select document_id, committed_at as changed_at from file_changes

),

event_stats as (

    select
        change_events.document_id,
        count(*) as change_events,
        min(change_events.changed_at) as first_changed_at,
        max(change_events.changed_at) as last_changed_at,
        count(*) filter (where change_events.changed_at > as_of.as_of - interval 30 day) as changes_30d,
        count(*) filter (where change_events.changed_at > as_of.as_of - interval 90 day) as changes_90d,
        count(*) filter (where change_events.changed_at > as_of.as_of - interval 365 day) as changes_365d

    from change_events
    cross join as_of
    group by change_events.document_id

),

version_stats as (

    select
        versions.document_id,
        count(*) as versions,
        count(*) filter (where versions.modified_at > as_of.as_of - interval 30 day) as versions_30d,
        count(*) filter (where versions.modified_at > as_of.as_of - interval 90 day) as versions_90d,
        count(*) filter (where versions.modified_at > as_of.as_of - interval 365 day) as versions_365d

    from versions
    cross join as_of
    group by versions.document_id

),

commit_stats as (

    select
        file_changes.document_id,
        count(*) as commits,
        count(*) filter (where file_changes.committed_at > as_of.as_of - interval 30 day) as commits_30d,
        count(*) filter (where file_changes.committed_at > as_of.as_of - interval 90 day) as commits_90d,
        count(*) filter (where file_changes.committed_at > as_of.as_of - interval 365 day) as commits_365d,
        sum(file_changes.lines_churned) as lines_churned,
        coalesce(
            sum(file_changes.lines_churned)
                filter (where file_changes.committed_at > as_of.as_of - interval 90 day),
            0
        ) as lines_churned_90d

    from file_changes
    cross join as_of
    group by file_changes.document_id

),

joined as (

    select
        live_documents.*,
        -- The earliest evidence the document existed: a folder's file can be years older than
        -- our first ingest (its mtime says so), and a repository's history is known up front.
        least(live_documents.ingested_first_seen_at, event_stats.first_changed_at) as first_seen_at,
        coalesce(event_stats.last_changed_at, live_documents.ingested_first_seen_at) as last_changed_at,
        coalesce(event_stats.change_events, 0) as change_events,
        coalesce(event_stats.changes_30d, 0) as changes_30d,
        coalesce(event_stats.changes_90d, 0) as changes_90d,
        coalesce(event_stats.changes_365d, 0) as changes_365d,
        coalesce(version_stats.versions, 0) as versions,
        coalesce(version_stats.versions_30d, 0) as versions_30d,
        coalesce(version_stats.versions_90d, 0) as versions_90d,
        coalesce(version_stats.versions_365d, 0) as versions_365d,
        coalesce(commit_stats.commits, 0) as commits,
        coalesce(commit_stats.commits_30d, 0) as commits_30d,
        coalesce(commit_stats.commits_90d, 0) as commits_90d,
        coalesce(commit_stats.commits_365d, 0) as commits_365d,
        coalesce(commit_stats.lines_churned, 0) as lines_churned,
        coalesce(commit_stats.lines_churned_90d, 0) as lines_churned_90d,
        as_of.as_of

    from live_documents
    cross join as_of
    left join event_stats on live_documents.document_id = event_stats.document_id
    left join version_stats on live_documents.document_id = version_stats.document_id
    left join commit_stats on live_documents.document_id = commit_stats.document_id

),

final as (

    select
        document_id,
        source_id,
        tenant,
        source_type,
        path,
        format,
        title,
        current_content_hash,
        ingested_first_seen_at,
        first_seen_at,
        last_changed_at,
        -- Whole days elapsed, never negative.
        greatest(0, date_diff('second', first_seen_at, as_of) // 86400)::integer
            as days_since_first_seen,
        greatest(0, date_diff('second', last_changed_at, as_of) // 86400)::integer
            as days_since_change,
        change_events::integer as change_events,
        changes_30d::integer as changes_30d,
        changes_90d::integer as changes_90d,
        changes_365d::integer as changes_365d,
        versions::integer as versions,
        versions_30d::integer as versions_30d,
        versions_90d::integer as versions_90d,
        versions_365d::integer as versions_365d,
        commits::integer as commits,
        commits_30d::integer as commits_30d,
        commits_90d::integer as commits_90d,
        commits_365d::integer as commits_365d,
        lines_churned::bigint as lines_churned,
        lines_churned_90d::bigint as lines_churned_90d,
        as_of

    from joined

)

select * from final
