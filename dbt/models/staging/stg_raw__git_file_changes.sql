with

source as (

    select * from {{ source('raw', 'git_file_changes') }}

),

renamed as (

    select
        source_id,
        commit_sha,
        path,
        document_id,
        committed_at,
        lines_added,
        lines_removed,
        -- Binary files report no line counts; they churn zero lines rather than an unknown.
        coalesce(lines_added, 0) + coalesce(lines_removed, 0) as lines_churned

    from source

)

select * from renamed
