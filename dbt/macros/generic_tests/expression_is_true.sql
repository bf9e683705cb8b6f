{#- Row-level invariant: fails with every row where the expression is not true. Usable on a
    model or on a column (the expression then still names the column itself). -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
