with

source as (

    select * from {{ source('raw', 'sources') }}

),

renamed as (

    select
        source_id,
        source_type,
        uri,
        tenant,
        acl_groups,
        route_override,
        head_commit,
        config_hash,
        ingested_at

    from source

)

select * from renamed
