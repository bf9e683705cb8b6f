-- Rule 6 invariant on real data: within a tenant, no overflowed document is denser (fact bits
-- per token, then document_id) than a policy-static document that was kept. Returns offenders.
with

routes as (

    select * from {{ ref('document_routes') }}

),

overflowed as (

    select tenant, document_id, fact_bits_per_token from routes where route = 'overflow'

),

kept as (

    select tenant, document_id, fact_bits_per_token
    from routes
    where route = 'static' and not is_overridden

),

final as (

    select
        overflowed.tenant,
        overflowed.document_id as overflowed_document_id,
        kept.document_id as kept_document_id

    from overflowed
    inner join kept
        on overflowed.tenant = kept.tenant
        and (overflowed.fact_bits_per_token, overflowed.document_id)
            > (kept.fact_bits_per_token, kept.document_id)

)

select * from final
