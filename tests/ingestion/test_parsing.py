import itertools

import pytest

from ingestion import errors
from ingestion.chunking import chunk_elements, token_counter
from ingestion.parsing import Element, code_elements, parse_file, run_selfcheck
from ingestion.selfcheck import samples


def test_selfcheck_parses_every_format(parser_worker):
    counts = run_selfcheck(parser_worker)
    assert set(counts) == {"md", "txt", "html", "pdf", "docx"}
    assert all(n >= 1 for n in counts.values())


@pytest.mark.parametrize("fmt", ["md", "txt", "html", "pdf", "docx"])
def test_known_sentence_survives_each_format(parser_worker, fmt):
    elements = parse_file(f"x.{fmt}", fmt, samples()[fmt], parser_worker)
    assert "Dana Whitfield" in " ".join(e.text for e in elements)


def test_markdown_keeps_sections_and_table_rows(parser_worker):
    md = (b"# Pricing\n\n## Plans\n\nOur plans are billed monthly.\n\n"
          b"| Plan | Price | Seats |\n|---|---|---|\n| Starter | 29 USD | 5 |\n"
          b"| Team | 99 USD | 25 |\n"
          b"\n## Discounts\n\nNonprofits receive 40 percent off.\n")
    elements = parse_file("pricing.md", "md", md, parser_worker)
    chunks = chunk_elements(elements, chunk_tokens=100, overlap=10, counter=token_counter())
    by_section = {c.section: c.text for c in chunks}
    assert set(by_section) == {"Pricing > Plans", "Pricing > Discounts"}
    assert "Starter | 29 USD | 5" in by_section["Pricing > Plans"]
    assert "Team | 99 USD | 25" in by_section["Pricing > Plans"]
    assert by_section["Pricing > Discounts"] == "Nonprofits receive 40 percent off."


def test_html_headings_become_sections(parser_worker):
    html = (b"<html><body><h1>Handbook</h1><h2>Leave</h2><p>Staff get 25 days of leave.</p>"
            b"<h2>Travel</h2><p>Trains over 4 hours may be booked in first class.</p>"
            b"</body></html>")
    chunks = chunk_elements(parse_file("h.html", "html", html, parser_worker), chunk_tokens=100,
                            overlap=10, counter=token_counter())
    assert [(c.section, c.text) for c in chunks] == [
        ("Handbook > Leave", "Staff get 25 days of leave."),
        ("Handbook > Travel", "Trains over 4 hours may be booked in first class."),
    ]


def test_python_code_is_sectioned_by_definition():
    text = ('"""Billing helpers."""\nRATE = 0.2\n\n\ndef total(x):\n    """Sum."""\n'
            "    return x\n\n\nclass Invoice:\n    pass\n")
    elements = code_elements("billing/core.py", text)
    titles = [e.text for e in elements if e.category == "Title"]
    assert titles == ["billing/core.py", "billing/core.py > total", "billing/core.py > Invoice"]
    assert "".join(e.text for e in elements if e.category == "Code") == text


def test_empty_and_unsupported_inputs_raise(parser_worker):
    with pytest.raises(errors.EmptyFile):
        parse_file("e.md", "md", b"", parser_worker)
    with pytest.raises(errors.IngestError, match="no %PDF- header"):
        parse_file("x.pdf", "pdf", b"hello", parser_worker)


def test_chunks_respect_token_budget_and_overlap():
    counter = token_counter()
    sentence = "The on-call engineer acknowledges pages within 15 minutes. "
    elements = [Element("Title", "Runbook", 0), Element("NarrativeText", sentence * 30, 0)]
    chunks = chunk_elements(elements, chunk_tokens=64, overlap=8, counter=counter)
    assert len(chunks) > 3
    assert all(c.n_tokens <= 64 + 8 for c in chunks)
    assert all(c.section == "Runbook" for c in chunks)
    # Each chunk after the first starts with the tail of the one before.
    for before, after in itertools.pairwise(chunks):
        assert after.text.split()[0] in before.text.split()[-10:]


def test_leaf_titles_are_kept_as_text():
    elements = [Element("Title", "alpha", 0), Element("Title", "beta", 0)]
    chunks = chunk_elements(elements, chunk_tokens=50, overlap=5, counter=token_counter())
    assert [c.text for c in chunks] == ["alpha\nbeta"]
