-- Every chunk the retrieval index holds: all chunks of volatile, static (indexed too, so the
-- hybrid arm can cite them) and overflow documents. Excluded documents are left out; the
-- index deletes what this table no longer has.
with

chunks as (

    select * from {{ ref('stg_raw__chunks') }}

),

routes as (

    select * from {{ ref('document_routes') }}

),

sources as (

    select * from {{ ref('stg_raw__sources') }}

),

final as (

    select
        chunks.chunk_id,
        chunks.document_id,
        routes.source_id,
        routes.tenant,
        sources.acl_groups,
        routes.route,
        routes.path,
        routes.title,
        chunks.section,
        chunks.chunk_index,
        chunks.content_hash,
        chunks.text,
        chunks.n_tokens

    from chunks
    inner join routes
        on chunks.document_id = routes.document_id
        and chunks.content_hash = routes.content_hash
    inner join sources on routes.source_id = sources.source_id
    where routes.route in ('volatile', 'static', 'overflow')

)

select * from final
