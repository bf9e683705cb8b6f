-- One row per tenant in raw.sources, with or without static content: what its adapter can
-- hold, what the static documents ask of it, what overflowed to retrieval, and what the
-- chosen routes cost (retrieval: volatile and overflow documents over their expected stable
-- lifetime; compile: static documents).
with

sources as (

    select * from {{ ref('stg_raw__sources') }}

),

routes as (

    select * from {{ ref('document_routes') }}

),

tenants as (

    select distinct tenant from sources

),

route_totals as (

    select
        tenant,
        count(*) filter (where route = 'static') as static_documents,
        count(*) filter (where route = 'overflow') as overflowed_documents,
        count(*) filter (where route = 'volatile') as volatile_documents,
        count(*) filter (where route = 'excluded') as excluded_documents,
        sum(fact_bits) filter (where route in ('static', 'overflow'))
            as static_fact_bits_before_overflow,
        sum(fact_bits) filter (where route = 'overflow') as overflowed_fact_bits,
        sum(fact_bits) filter (where route = 'static') as used_fact_bits,
        sum(retrieval_cost_usd) filter (where route in ('volatile', 'overflow'))
            as retrieval_cost_usd,
        sum(compile_cost_usd) filter (where route = 'static') as compile_cost_usd

    from routes
    group by tenant

),

final as (

    select
        tenants.tenant,
        {{ kc_number_var('adapter_trainable_params', integer=true) }}::bigint as trainable_params,
        {{ kc_number_var('bits_per_param') }}::double as bits_per_param,
        {{ kc_number_var('capacity_safety_factor', max_value=1) }}::double as safety_factor,
        (trainable_params * bits_per_param * safety_factor)::double as capacity_bits,
        coalesce(route_totals.static_fact_bits_before_overflow, 0)::double
            as static_fact_bits_before_overflow,
        coalesce(route_totals.overflowed_documents, 0)::integer as overflowed_documents,
        coalesce(route_totals.overflowed_fact_bits, 0)::double as overflowed_fact_bits,
        coalesce(route_totals.used_fact_bits, 0)::double as used_fact_bits,
        coalesce(route_totals.static_documents, 0)::integer as static_documents,
        coalesce(route_totals.volatile_documents, 0)::integer as volatile_documents,
        coalesce(route_totals.excluded_documents, 0)::integer as excluded_documents,
        -- True only when override-forced static content alone exceeds the capacity.
        coalesce(route_totals.used_fact_bits, 0) > capacity_bits as is_over_capacity,
        coalesce(route_totals.retrieval_cost_usd, 0)::double as retrieval_cost_usd,
        coalesce(route_totals.compile_cost_usd, 0)::double as compile_cost_usd,
        {{ kc_as_of() }} as as_of

    from tenants
    left join route_totals on tenants.tenant = route_totals.tenant

)

select * from final
