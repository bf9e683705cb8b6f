with

source as (

    select * from {{ source('raw', 'chunks') }}

),

renamed as (

    select
        chunk_id,
        document_id,
        content_hash,
        chunk_index,
        section,
        text,
        n_tokens,
        element_types

    from source

)

select * from renamed
