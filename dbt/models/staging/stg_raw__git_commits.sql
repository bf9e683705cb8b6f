with

source as (

    select * from {{ source('raw', 'git_commits') }}

),

renamed as (

    select
        source_id,
        commit_sha,
        committed_at,
        authored_at,
        author_name,
        author_hash,
        message,
        files_changed

    from source

)

select * from renamed
