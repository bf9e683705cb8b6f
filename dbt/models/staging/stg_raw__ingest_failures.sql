with

source as (

    select * from {{ source('raw', 'ingest_failures') }}

),

renamed as (

    select
        source_id,
        path,
        content_hash,
        reason,
        exception_class,
        observed_at

    from source

)

select * from renamed
