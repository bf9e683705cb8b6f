{#- Helpers that turn the routing policy vars into SQL. Every var is validated here, so a bad
    kc.yaml value fails the run with a message naming the var instead of routing silently. -#}

{% macro kc_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true or value is sameas false -%}
        {{ value | string | lower }}
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        '{{ value | string | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}


{#- "Now": var as_of (ISO timestamp; without an offset it is read as UTC; 'last_commit' is the
    newest ingested commit), else the run's start time, so every model of one run sees the same
    instant. -#}
{% macro kc_as_of() -%}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of == 'last_commit' -%}
        coalesce((select max(committed_at) from {{ source('raw', 'git_commits') }}),
                 {{ kc_run_started() }})
    {%- elif as_of is not none and (as_of | string | trim) != '' -%}
        cast({{ kc_literal(as_of | string) }} as timestamptz)
    {%- else -%}
        {{ kc_run_started() }}
    {%- endif -%}
{%- endmacro %}


{% macro kc_run_started() -%}
    {%- if run_started_at is not none -%}
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}+00:00' as timestamptz)
    {%- else -%}
        current_timestamp
    {%- endif -%}
{%- endmacro %}


{% macro kc_number_var(name, integer=false, allow_zero=false, max_value=none) -%}
    {%- set value = var(name) -%}
    {%- if value is not number or value is sameas true or value is sameas false -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a number, got " ~ value) }}
    {%- endif -%}
    {%- if integer and value != (value | int) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a whole number, got " ~ value) }}
    {%- endif -%}
    {%- if value < 0 or (value == 0 and not allow_zero) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be " ~ (">= 0" if allow_zero else "> 0") ~ ", got " ~ value) }}
    {%- endif -%}
    {%- if max_value is not none and value > max_value -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be <= " ~ max_value ~ ", got " ~ value) }}
    {%- endif -%}
    {{ value }}
{%- endmacro %}


{% macro kc_bool_var(name) -%}
    {%- set value = var(name) -%}
    {%- if value is not sameas true and value is not sameas false -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be true or false, got " ~ value) }}
    {%- endif -%}
    {{ value | string | lower }}
{%- endmacro %}


{#- A path glob as an RE2 pattern, with the semantics of ingestion/globs.py (the include and
    exclude globs of kc.yaml sources): "*" and "?" stay within one path segment, "**" matches
    any depth and "**/" also matches no directory at all; everything else is literal. -#}
{% macro kc_glob_to_regex(pattern) -%}
    {%- set ns = namespace(out='', skip=0) -%}
    {%- for i in range(pattern | length) -%}
        {%- if ns.skip > 0 -%}
            {%- set ns.skip = ns.skip - 1 -%}
        {%- elif pattern[i:i + 3] == '**/' -%}
            {%- set ns.out = ns.out ~ '(?:.*/)?' -%}
            {%- set ns.skip = 2 -%}
        {%- elif pattern[i:i + 2] == '**' -%}
            {%- set ns.out = ns.out ~ '.*' -%}
            {%- set ns.skip = 1 -%}
        {%- elif pattern[i] == '*' -%}
            {%- set ns.out = ns.out ~ '[^/]*' -%}
        {%- elif pattern[i] == '?' -%}
            {%- set ns.out = ns.out ~ '[^/]' -%}
        {%- elif pattern[i] in '\\.+()|[]{}^$' -%}
            {%- set ns.out = ns.out ~ '\\' ~ pattern[i] -%}
        {%- else -%}
            {%- set ns.out = ns.out ~ pattern[i] -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('(?s)' ~ ns.out) }}
{%- endmacro %}


{#- var route_overrides as a relation (override_order, source_id, path_glob, path_regex, route,
    reason); source_id null means every source. -#}
{% macro kc_route_overrides() -%}
    {%- set rows = var('route_overrides') or [] -%}
    {%- if rows is mapping or rows is string -%}
        {{ exceptions.raise_compiler_error("var route_overrides must be a list of {source_id, glob, route, reason}") }}
    {%- endif -%}
    {%- if rows | length == 0 -%}
        select
            cast(null as integer) as override_order,
            cast(null as varchar) as source_id,
            cast(null as varchar) as path_glob,
            cast(null as varchar) as path_regex,
            cast(null as varchar) as route,
            cast(null as varchar) as reason
        where false
    {%- else -%}
        select * from (values
        {%- for row in rows %}
            {%- if row is not mapping or not row.get('glob') -%}
                {{ exceptions.raise_compiler_error("route_overrides[" ~ loop.index0 ~ "] needs a glob, got " ~ row) }}
            {%- endif -%}
            {%- if row.get('route') not in ['volatile', 'static', 'excluded'] -%}
                {{ exceptions.raise_compiler_error("route_overrides[" ~ loop.index0 ~ "].route must be volatile, static or excluded, got " ~ row.get('route')) }}
            {%- endif %}
            (
                {{ loop.index0 }},
                cast({{ kc_literal(row.get('source_id')) }} as varchar),
                cast({{ kc_literal(row.get('glob')) }} as varchar),
                cast({{ kc_literal(kc_glob_to_regex(row.get('glob') | string)) }} as varchar),
                cast({{ kc_literal(row.get('route')) }} as varchar),
                cast({{ kc_literal(row.get('reason')) }} as varchar)
            ){{ "," if not loop.last }}
        {%- endfor %}
        ) as overrides (override_order, source_id, path_glob, path_regex, route, reason)
    {%- endif -%}
{%- endmacro %}


{#- var source_policies as a relation (source_id, min_stable_days, max_changes_90d); a missing
    threshold falls back to the project-wide var. -#}
{% macro kc_source_policies() -%}
    {%- set rows = var('source_policies') or [] -%}
    {%- if rows is mapping or rows is string -%}
        {{ exceptions.raise_compiler_error("var source_policies must be a list of {source_id, min_stable_days?, max_changes_90d?}") }}
    {%- endif -%}
    {%- if rows | length == 0 -%}
        select
            cast(null as varchar) as source_id,
            cast(null as integer) as min_stable_days,
            cast(null as integer) as max_changes_90d
        where false
    {%- else -%}
        select * from (values
        {%- for row in rows %}
            {%- if row is not mapping or not row.get('source_id') -%}
                {{ exceptions.raise_compiler_error("source_policies[" ~ loop.index0 ~ "] needs a source_id, got " ~ row) }}
            {%- endif -%}
            {%- if (rows | selectattr('source_id', 'equalto', row.get('source_id')) | list | length) > 1 -%}
                {{ exceptions.raise_compiler_error("source_policies names source " ~ row.get('source_id') ~ " more than once") }}
            {%- endif -%}
            {%- for key in ['min_stable_days', 'max_changes_90d'] -%}
                {%- set value = row.get(key) -%}
                {%- if value is not none and (value is not number or value < 0 or value != (value | int)) -%}
                    {{ exceptions.raise_compiler_error("source_policies[" ~ loop.index0 ~ "]." ~ key ~ " must be a whole number >= 0, got " ~ value) }}
                {%- endif -%}
            {%- endfor %}
            (
                cast({{ kc_literal(row.get('source_id')) }} as varchar),
                cast({{ kc_literal(row.get('min_stable_days')) }} as integer),
                cast({{ kc_literal(row.get('max_changes_90d')) }} as integer)
            ){{ "," if not loop.last }}
        {%- endfor %}
        ) as policies (source_id, min_stable_days, max_changes_90d)
    {%- endif -%}
{%- endmacro %}


{#- var questions_per_day ({tenant: number}) as a relation (tenant, questions_per_day). -#}
{% macro kc_questions_per_day() -%}
    {%- set rows = var('questions_per_day') or {} -%}
    {%- if rows is not mapping -%}
        {{ exceptions.raise_compiler_error("var questions_per_day must be a mapping tenant -> number, got " ~ rows) }}
    {%- endif -%}
    {%- if rows | length == 0 -%}
        select cast(null as varchar) as tenant, cast(null as double) as questions_per_day
        where false
    {%- else -%}
        select * from (values
        {%- for tenant, value in rows.items() %}
            {%- if value is not number or value < 0 -%}
                {{ exceptions.raise_compiler_error("questions_per_day[" ~ tenant ~ "] must be a number >= 0, got " ~ value) }}
            {%- endif %}
            (cast({{ kc_literal(tenant) }} as varchar), cast({{ value }} as double)){{ "," if not loop.last }}
        {%- endfor %}
        ) as questions (tenant, questions_per_day)
    {%- endif -%}
{%- endmacro %}


{#- "1 day" / "3 days": reasons are read by people. -#}
{% macro kc_plural(count_sql, singular, plural) -%}
    ({{ count_sql }})::varchar || case when ({{ count_sql }}) = 1 then ' {{ singular }}' else ' {{ plural }}' end
{%- endmacro %}


{#- Bits for reasons: "480" below 10k, else millions to 3 significant digits ("0.664M"). -#}
{% macro kc_human_bits(bits_sql) -%}
    case
        when ({{ bits_sql }}) < 10000 then round({{ bits_sql }})::bigint::varchar
        else printf('%.3gM', ({{ bits_sql }}) / 1e6)
    end
{%- endmacro %}
