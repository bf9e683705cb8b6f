{#- Schemas are exactly staging, intermediate and marts (not <target>_staging): other stages
    (retrieval, training, evaluation) read marts.* by name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
