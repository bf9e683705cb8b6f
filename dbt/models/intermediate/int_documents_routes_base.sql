-- Routing rules 1-5 for every live document (deleted documents never reach this model):
--   1. an explicit override wins: the first matching var route_overrides entry (list order),
--      else the source's route_override from kc.yaml;
--   3. new (first seen fewer than min_stable_days ago) or changed fewer than min_stable_days
--      ago -> volatile;
--   4. more than max_changes_90d changes in the last 90 days -> volatile;
--   5. otherwise static.
-- Every volatile reason that applies is listed, first the one that decides. Thresholds come
-- from var source_policies for the document's source, else the project-wide vars.
-- Override globs match the document's path with the semantics of the sources' include and
-- exclude globs (ingestion/globs.py): * and ? within one path segment, ** any depth, "**/"
-- also no directory; translated to RE2 at compile time by kc_glob_to_regex.
with

change_stats as (

    select * from {{ ref('int_documents_change_stats') }}

),

sources as (

    select * from {{ ref('stg_raw__sources') }}

),

route_overrides as (

    {{ kc_route_overrides() }}

),

source_policies as (

    {{ kc_source_policies() }}

),

with_policy as (

    select
        change_stats.*,
        sources.route_override as source_route_override,
        coalesce(
            source_policies.min_stable_days,
            {{ kc_number_var('min_stable_days', integer=true, allow_zero=true) }}
        ) as min_stable_days,
        coalesce(
            source_policies.max_changes_90d,
            {{ kc_number_var('max_changes_90d', integer=true, allow_zero=true) }}
        ) as max_changes_90d

    from change_stats
    left join sources on change_stats.source_id = sources.source_id
    left join source_policies on change_stats.source_id = source_policies.source_id

),

override_matches as (

    select
        with_policy.document_id,
        route_overrides.override_order,
        route_overrides.source_id as override_source_id,
        route_overrides.path_glob as override_glob,
        route_overrides.route as override_route,
        route_overrides.reason as override_reason,
        row_number() over (
            partition by with_policy.document_id order by route_overrides.override_order
        ) as match_rank

    from with_policy
    inner join route_overrides
        on (route_overrides.source_id is null or route_overrides.source_id = with_policy.source_id)
        and regexp_full_match(with_policy.path, route_overrides.path_regex)

),

first_override as (

    select * from override_matches where match_rank = 1

),

rules as (

    select
        with_policy.*,
        first_override.override_order,
        first_override.override_source_id,
        first_override.override_glob,
        first_override.override_route,
        first_override.override_reason,
        with_policy.days_since_first_seen < with_policy.min_stable_days as is_new,
        with_policy.days_since_change < with_policy.min_stable_days as is_changed_recently,
        with_policy.changes_90d > with_policy.max_changes_90d as is_churning

    from with_policy
    left join first_override on with_policy.document_id = first_override.document_id

),

routed as (

    select
        *,
        case
            when override_route is not null then 'override_glob'
            when source_route_override is not null then 'override_source'
            when is_new then 'new'
            when is_changed_recently then 'changed_recently'
            when is_churning then 'churning'
            else 'stable'
        end as route_rule,
        coalesce(
            override_route,
            source_route_override,
            case when is_new or is_changed_recently or is_churning then 'volatile' else 'static' end
        ) as route,
        case
            when override_route is not null then
                'override: '
                || coalesce(override_reason || ' (', '')
                || 'route_overrides glob ''' || override_glob || ''''
                || coalesce(' on source ' || override_source_id, '')
                || case when override_reason is not null then ')' else '' end
            when source_route_override is not null then
                'override: source ' || source_id || ' has route_override ' || source_route_override
            when is_new or is_changed_recently or is_churning then
                concat_ws(
                    '; ',
                    case
                        when is_new then
                            'new: first seen ' || {{ kc_plural('days_since_first_seen', 'day', 'days') }}
                            || ' ago (< ' || {{ kc_plural('min_stable_days', 'day', 'days') }}
                            || ' stable required)'
                        when is_changed_recently then
                            'changed ' || {{ kc_plural('days_since_change', 'day', 'days') }}
                            || ' ago (< ' || {{ kc_plural('min_stable_days', 'day', 'days') }}
                            || ' stable required)'
                    end,
                    case
                        when is_churning then
                            'changed ' || {{ kc_plural('changes_90d', 'time', 'times') }}
                            || ' in 90 days (> ' || max_changes_90d::varchar || ' allowed)'
                    end
                )
            else
                'unchanged for ' || {{ kc_plural('days_since_change', 'day', 'days') }}
                || ', ' || {{ kc_plural('changes_90d', 'change', 'changes') }} || ' in 90 days'
        end as reason

    from rules

),

final as (

    select
        document_id,
        source_id,
        tenant,
        path,
        format,
        title,
        current_content_hash,
        first_seen_at,
        last_changed_at,
        days_since_first_seen,
        days_since_change,
        change_events,
        changes_90d,
        changes_365d,
        lines_churned_90d,
        min_stable_days::integer as min_stable_days,
        max_changes_90d::integer as max_changes_90d,
        route_rule in ('override_glob', 'override_source') as is_overridden,
        route,
        route_rule,
        reason,
        as_of

    from routed

)

select * from final
