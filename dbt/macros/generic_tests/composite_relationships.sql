{#- Composite foreign key: every non-null (columns) of model exists as (fields) in `to`. -#}
{% test composite_relationships(model, columns, to, fields) %}
select child.*
from {{ model }} as child
left join {{ to }} as parent
    on {% for column in columns -%}
        child.{{ column }} = parent.{{ fields[loop.index0] }}{{ " and " if not loop.last }}
    {%- endfor %}
where parent.{{ fields[0] }} is null
    and {% for column in columns -%}
        child.{{ column }} is not null{{ " and " if not loop.last }}
    {%- endfor %}
{% endtest %}
