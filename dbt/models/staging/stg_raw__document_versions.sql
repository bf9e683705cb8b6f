with

source as (

    select * from {{ source('raw', 'document_versions') }}

),

renamed as (

    select
        document_id,
        content_hash,
        version_number,
        observed_at,
        modified_at,
        size_bytes,
        n_chunks,
        secrets_redacted,
        pii_redacted,
        redactions

    from source

)

select * from renamed
