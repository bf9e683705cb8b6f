-- The chunks compiled into each tenant's adapter: all chunks of static documents, with the
-- fact estimate synthesis can use to size its question sets.
with

chunks as (

    select * from {{ ref('chunks_for_index') }}

),

chunk_facts as (

    select * from {{ ref('int_chunks_fact_density') }}

),

final as (

    select
        chunks.*,
        chunk_facts.fact_tokens,
        chunk_facts.fact_bits

    from chunks
    inner join chunk_facts on chunks.chunk_id = chunk_facts.chunk_id
    where chunks.route = 'static'

)

select * from final
