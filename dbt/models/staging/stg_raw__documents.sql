with

source as (

    select * from {{ source('raw', 'documents') }}

),

renamed as (

    select
        document_id,
        source_id,
        path,
        format,
        title,
        current_content_hash,
        first_seen_at,
        is_deleted,
        deleted_at

    from source

)

select * from renamed
