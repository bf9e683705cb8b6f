-- Fact density of every chunk of the current version of each live document.
--
-- Estimator: the number of distinct "fact tokens" in the chunk times var bits_per_fact.
-- A fact token is a string a closed-book answer would have to reproduce exactly:
--   dates        ISO (2026-03-03, optional time) and written ("March 3, 2026", "3 March 2026");
--   identifiers  a word that starts with a letter and holds a digit (ERR-4021, SKU-77, sha256);
--   numbers      integers, decimals, thousands separators, percentages, currency and
--                magnitude suffixes as one token (3.5%, $1,200.50, $4.2M, 2.4.1);
--   names        two or more capitalised words in a row (Acme Widget Corp, New York);
--   table cells  cells of markdown tables (lines with at least two "|", separator rows
--                skipped) and of tab-separated lines.
-- Dates are removed before looking for identifiers, and both before numbers, so "2026-03-03"
-- is one date, not three numbers. Tokens are deduplicated by their text within the chunk (a
-- cell "42" and the number 42 are one fact). Document fact bits are the sum over chunks.
-- bits_per_fact (default 24) ~ log2 of a plausible answer space (~2^16 values for a number,
-- date, name or code) plus ~8 bits naming which relation or attribute the value answers.
{%- set month = "(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)" %}
{%- set date_pattern = "\\b\\d{4}-\\d{2}-\\d{2}(?:[T ]\\d{2}:\\d{2}(?::\\d{2})?)?\\b"
    ~ "|\\b" ~ month ~ "\\.? \\d{1,2}(?:st|nd|rd|th)?,? \\d{4}\\b"
    ~ "|\\b\\d{1,2} " ~ month ~ ",? \\d{4}\\b" %}
{%- set identifier_pattern = "\\b[A-Za-z][A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]*\\b" %}
{%- set number_pattern = "(?:[$€£¥] ?)?\\d+(?:[.,]\\d+)*(?:%|(?:k|K|M|B|bn)\\b)?" %}
{%- set name_pattern = "\\b[A-Z][a-z]+(?: [A-Z][a-z]+)+\\b" %}

with

chunks as (

    select * from {{ ref('stg_raw__chunks') }}

),

documents as (

    select * from {{ ref('stg_raw__documents') }}

),

current_chunks as (

    select chunks.*
    from chunks
    inner join documents
        on chunks.document_id = documents.document_id
        and chunks.content_hash = documents.current_content_hash
    where not documents.is_deleted

),

dates_masked as (

    select
        *,
        regexp_extract_all(text, '{{ date_pattern }}') as date_tokens,
        regexp_replace(text, '{{ date_pattern }}', ' ', 'g') as text_without_dates

    from current_chunks

),

identifiers_masked as (

    select
        *,
        regexp_extract_all(text_without_dates, '{{ identifier_pattern }}') as identifier_tokens,
        regexp_replace(text_without_dates, '{{ identifier_pattern }}', ' ', 'g') as text_without_codes

    from dates_masked

),

table_lines as (

    select
        *,
        list_filter(
            string_split(text, chr(10)),
            lambda line: length(line) - length(replace(line, '|', '')) >= 2
                or regexp_matches(line, '\S\t+\S')
        ) as table_lines

    from identifiers_masked

),

tokens as (

    select
        chunk_id,
        document_id,
        content_hash,
        chunk_index,
        n_tokens,
        list_distinct(date_tokens) as date_tokens,
        list_distinct(identifier_tokens) as identifier_tokens,
        list_distinct(regexp_extract_all(text_without_codes, '{{ number_pattern }}')) as number_tokens,
        list_distinct(regexp_extract_all(text_without_codes, '{{ name_pattern }}')) as name_tokens,
        list_distinct(
            list_filter(
                list_transform(
                    flatten(list_transform(table_lines, lambda line: regexp_split_to_array(line, '[|\t]'))),
                    lambda cell: trim(cell)
                ),
                lambda cell: cell != '' and not regexp_full_match(cell, ':?-+:?')
            )
        ) as table_cell_tokens

    from table_lines

),

counted as (

    select
        *,
        list_sort(list_distinct(flatten([
            date_tokens, identifier_tokens, number_tokens, name_tokens, table_cell_tokens
        ]))) as fact_token_list

    from tokens

),

final as (

    select
        chunk_id,
        document_id,
        content_hash,
        chunk_index,
        n_tokens,
        len(date_tokens)::integer as n_dates,
        len(identifier_tokens)::integer as n_identifiers,
        len(number_tokens)::integer as n_numbers,
        len(name_tokens)::integer as n_names,
        len(table_cell_tokens)::integer as n_table_cells,
        fact_token_list,
        len(fact_token_list)::integer as fact_tokens,
        len(fact_token_list) * {{ kc_number_var('bits_per_fact') }}::double as fact_bits

    from counted

)

select * from final
