-- The route of every live document, with its reason and the evidence beside it.
-- Rules 1-5 come from int_documents_routes_base; this model adds
--   the cost model (shown always; decides only if var cost_rule_enabled):
--     expected_stable_days = clamp(365 / (changes_365d + 1), 1, 365): the mean time to the next
--       change if changes arrive at the (add-one smoothed) rate of the last year;
--     retrieval_cost_usd = questions_per_day(tenant) * question_share * expected_stable_days
--       * retrieved_tokens_per_question * price_per_m_prompt_tokens / 1e6, where question_share
--       is the document's share of its tenant's routed tokens (questions assumed to hit
--       documents in proportion to their size);
--     compile_cost_usd = n_tokens * qa_expansion_factor * epochs / 1e6
--       * training_cost_per_m_tokens (the document's share of one compile);
--     with the rule on, a policy-static document whose compile costs more than retrieving it
--     over its expected stable lifetime goes volatile;
--   rule 6, capacity: per tenant, if the fact bits of static documents exceed
--     adapter_trainable_params * bits_per_param * capacity_safety_factor, policy-static
--     documents move to overflow least fact-dense first (fact bits per token ascending, then
--     document_id) until the rest fit. Documents forced static by an override count against
--     the capacity but never overflow.
-- Excluded documents carry no costs.
with

routes as (

    select * from {{ ref('int_documents_routes_base') }}

),

chunk_facts as (

    select * from {{ ref('int_chunks_fact_density') }}

),

questions_per_day as (

    {{ kc_questions_per_day() }}

),

document_facts as (

    select
        document_id,
        count(*) as n_chunks,
        sum(n_tokens) as n_tokens,
        sum(fact_bits) as fact_bits

    from chunk_facts
    group by document_id

),

measured as (

    select
        routes.*,
        coalesce(document_facts.n_chunks, 0) as n_chunks,
        coalesce(document_facts.n_tokens, 0) as n_tokens,
        coalesce(document_facts.fact_bits, 0) as fact_bits,
        coalesce(document_facts.fact_bits / nullif(document_facts.n_tokens, 0), 0)
            as fact_bits_per_token,
        least(365.0, greatest(1.0, 365.0 / (routes.changes_365d + 1))) as expected_stable_days,
        coalesce(
            questions_per_day.questions_per_day,
            {{ kc_number_var('default_questions_per_day', allow_zero=true) }}
        ) as questions_per_day

    from routes
    left join document_facts on routes.document_id = document_facts.document_id
    left join questions_per_day on routes.tenant = questions_per_day.tenant

),

costed as (

    select
        *,
        case when route != 'excluded' then
            questions_per_day
            * coalesce(
                n_tokens / nullif(
                    sum(case when route != 'excluded' then n_tokens else 0 end)
                        over (partition by tenant),
                    0
                ),
                0
            )
            * expected_stable_days
            * {{ kc_number_var('retrieved_tokens_per_question') }}
            * {{ kc_number_var('price_per_m_prompt_tokens', allow_zero=true) }} / 1e6
        end as retrieval_cost_usd,
        case when route != 'excluded' then
            n_tokens * {{ kc_number_var('qa_expansion_factor') }} * {{ kc_number_var('epochs') }} / 1e6
            * {{ kc_number_var('training_cost_per_m_tokens', allow_zero=true) }}
        end as compile_cost_usd

    from measured

),

cost_ruled as (

    select
        * replace (
            case when is_cost_volatile then 'volatile' else route end as route,
            case when is_cost_volatile then 'cost' else route_rule end as route_rule,
            case
                when is_cost_volatile then
                    'cost: compiling costs ' || printf('$%.4f', compile_cost_usd)
                    || ' > retrieving ' || printf('$%.4f', retrieval_cost_usd)
                    || ' over an expected stable lifetime of '
                    || {{ kc_plural('round(expected_stable_days)::integer', 'day', 'days') }}
                else reason
            end as reason
        )

    from (
        select
            *,
            {{ kc_bool_var('cost_rule_enabled') }}
                and route_rule = 'stable'
                and compile_cost_usd > retrieval_cost_usd as is_cost_volatile
        from costed
    )

),

capacity as (

    select
        {{ kc_number_var('adapter_trainable_params') }}
        * {{ kc_number_var('bits_per_param') }}
        * {{ kc_number_var('capacity_safety_factor', max_value=1) }} as capacity_bits

),

capacity_ranked as (

    select
        cost_ruled.*,
        capacity.capacity_bits,
        sum(case when cost_ruled.route = 'static' then cost_ruled.fact_bits else 0 end)
            over (partition by cost_ruled.tenant) as tenant_static_fact_bits,
        cost_ruled.route = 'static' and not cost_ruled.is_overridden as is_overflow_candidate,
        -- Fact bits of the candidates ahead of this one in overflow order.
        coalesce(
            sum(cost_ruled.fact_bits) over (
                partition by
                    cost_ruled.tenant,
                    cost_ruled.route = 'static' and not cost_ruled.is_overridden
                order by cost_ruled.fact_bits_per_token, cost_ruled.document_id
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as fact_bits_overflowed_before

    from cost_ruled
    cross join capacity

),

overflowed as (

    select
        * replace (
            case when is_overflow then 'overflow' else route end as route,
            case when is_overflow then 'capacity' else route_rule end as route_rule,
            case
                when is_overflow then
                    'overflow: tenant static content ' || {{ kc_human_bits('tenant_static_fact_bits') }}
                    || ' fact-bits > capacity ' || {{ kc_human_bits('capacity_bits') }}
                    || '; least fact-dense first (this document: '
                    || printf('%.3g', fact_bits_per_token) || ' fact-bits/token)'
                else reason
            end as reason
        )

    from (
        select
            *,
            is_overflow_candidate
                and tenant_static_fact_bits - fact_bits_overflowed_before > capacity_bits
                as is_overflow
        from capacity_ranked
    )

),

final as (

    select
        document_id,
        source_id,
        tenant,
        path,
        title,
        format,
        current_content_hash as content_hash,
        route,
        route_rule,
        reason,
        is_overridden,
        first_seen_at,
        last_changed_at,
        days_since_first_seen,
        days_since_change,
        changes_90d,
        changes_365d,
        min_stable_days,
        max_changes_90d,
        n_chunks::integer as n_chunks,
        n_tokens::bigint as n_tokens,
        fact_bits::double as fact_bits,
        fact_bits_per_token::double as fact_bits_per_token,
        expected_stable_days::double as expected_stable_days,
        retrieval_cost_usd::double as retrieval_cost_usd,
        compile_cost_usd::double as compile_cost_usd,
        case
            when route = 'excluded' then null
            when compile_cost_usd < retrieval_cost_usd then 'compile'
            else 'retrieve'
        end as cheaper_route,
        as_of

    from overflowed

)

select * from final
