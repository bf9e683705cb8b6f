"""Deterministic fact extraction: one test per kind of fact."""

from __future__ import annotations

from training.synthesis.extract import extract_facts, extract_with_stats
from training.synthesis.models import Chunk, Fact
from training.synthesis.normalize import answer_supported, answers_match, normalize_answer


def facts_of(text: str, *, path: str = "doc.md", section: str = "Policy") -> list[Fact]:
    return extract_facts(Chunk("c1", "d1", "acme", text, section=section, path=path))


def triples(facts: list[Fact]) -> set[tuple[str, str, str, str]]:
    return {(f.kind, f.subject, f.relation, f.answer) for f in facts}


def test_sentence_spans_become_cloze_facts_with_typed_questions() -> None:
    facts = facts_of("Passwords must be at least 14 characters long and stored only in the "
                     "VaultKey password manager. Security logs are retained for 400 days.")
    by_answer = {f.answer: f for f in facts}
    assert set(by_answer) == {"14 characters", "VaultKey", "400 days"}
    assert by_answer["14 characters"].wh == "how many characters"
    assert by_answer["VaultKey"].wh == "which password manager"
    logs = by_answer["400 days"]
    assert (logs.kind, logs.subject, logs.relation) == (
        "sentence", "Security logs", "Security logs are retained for ___")
    assert logs.question == "How long are security logs retained for?"
    assert logs.evidence == "Security logs are retained for 400 days"


def test_labelled_values_and_who_questions() -> None:
    facts = facts_of("The bastion accepts SSH on port 2222. Access requests are approved by "
                     "Diego Alvarez. Deploys use the shipit tool.")
    got = {f.answer: (f.wh, f.question) for f in facts}
    assert got["2222"] == ("which port", "Which port does the bastion accept SSH on?")
    assert got["Diego Alvarez"] == ("who", "Who are access requests approved by?")
    assert got["shipit"][0] == "which tool"


def test_key_value_lines_split_name_and_role() -> None:
    facts = facts_of("Owner: Rebecca Osei, Head of People.\nTotal operating budget: $38,600,000.",
                     section="Handbook")
    assert triples(facts) >= {
        ("key_value", "Handbook", "Owner", "Rebecca Osei"),
        ("key_value", "Rebecca Osei", "role", "Head of People"),
        ("key_value", "Handbook", "Total operating budget", "$38,600,000"),
    }
    owner = next(f for f in facts if f.relation == "Owner")
    assert (owner.answer_type, owner.wh) == ("name", "who")


def test_pipe_table_rows_cells_and_reverse_lookups() -> None:
    facts = facts_of("SKU | Product | List price\nNW-FLT-200 | Fleet Pro | $1,450\n"
                     "NW-FLT-300 | Fleet Enterprise | $4,800", section="Price List > Plans")
    assert triples(facts) >= {
        ("table_cell", "Fleet Pro (NW-FLT-200)", "List price", "$1,450"),
        ("table_cell", "NW-FLT-200", "Product", "Fleet Pro"),
        ("table_lookup", "Fleet Enterprise", "SKU", "NW-FLT-300"),
    }
    price = next(f for f in facts if f.answer == "$1,450")
    assert (price.answer_type, price.wh) == ("money", "how much")
    assert price.evidence == "Plans: SKU NW-FLT-200; List price: $1,450"


def test_collapsed_fixed_width_table_from_a_pdf() -> None:
    text = ("Severity Remediation deadline Tracked in -------- -------------------- "
            "------------- Critical 72 hours SECVULN board High 14 days SECVULN board Medium "
            "45 days Team backlog Low 120 days Team backlog")
    facts = facts_of(text, section="Vulnerability remediation deadlines")
    cells = {(f.subject, f.relation): f.answer for f in facts if f.kind == "table_cell"}
    assert cells[("Critical", "Remediation deadline")] == "72 hours"
    assert cells[("Medium", "Tracked in")] == "Team backlog"
    assert cells[("Low", "Remediation deadline")] == "120 days"
    assert len(cells) == 8


def test_fixed_width_table_with_gaps_and_an_unparseable_one() -> None:
    text = ("Code     Department                  Budget owner -------  "
            "--------------------------  ----------------- CC-1100  Platform Engineering        "
            "Priya Raman CC-4100  Customer Success            Marcus Reid")
    facts = facts_of(text)
    assert ("table_cell", "Customer Success (CC-4100)", "Budget owner", "Marcus Reid") in (
        triples(facts))
    _, stats = extract_with_stats(Chunk("c", "d", "t", "A B ----- ----- x", path="x.md"))
    assert stats == {"unparsed_table": 1}


def test_definitions_faq_headings_and_headed_lists() -> None:
    defined = facts_of("Net revenue means revenue after refunds and credits.")
    assert ("definition", "Net revenue", "meaning", "revenue after refunds and credits") in (
        triples(defined))
    faq = facts_of("Invoices are issued on the 1st of each month.",
                   section="Billing FAQ > When are invoices sent?")
    assert ("faq", "When are invoices sent", "answer",
            "Invoices are issued on the 1st of each month") in triples(faq)
    cities = facts_of("New York, San Francisco, London and Tokyo.",
                      section="Travel Policy > High-cost cities")
    assert ("definition", "High-cost cities", "members",
            "New York, San Francisco, London and Tokyo") in triples(cities)


def test_python_module_function_constants_and_cli_flags() -> None:
    module = facts_of('"""Business constants for invoicing."""\n\nINVOICE_DUE_DAYS = 30\n'
                      'DUNNING_DAYS = (3, 7, 14)\n"""Days after the due date for reminders."""\n',
                      path="billing/constants.py", section="billing/constants.py")
    assert triples(module) >= {
        ("code_purpose", "billing/constants.py", "purpose", "Business constants for invoicing"),
        ("constant", "INVOICE_DUE_DAYS", "value", "30"),
        ("constant", "the invoice due days in billing/constants.py", "value", "30"),
        ("constant", "DUNNING_DAYS", "value", "3, 7, 14"),
        ("code_purpose", "the constant DUNNING_DAYS", "meaning",
         "Days after the due date for reminders"),
    }
    function = facts_of('def optimize(stops: list, *, deadline_s: float = 45) -> list[str]:\n'
                        '    """Return stop ids in visiting order."""\n',
                        path="routing.py", section="routing.py > optimize")
    assert triples(function) >= {
        ("code_signature", "the function optimize in routing.py", "parameters",
         "stops, deadline_s"),
        ("code_signature", "the function optimize in routing.py", "return type", "list[str]"),
        ("code_default", "the deadline_s parameter of optimize", "default value", "45"),
        ("code_purpose", "the function optimize in routing.py", "purpose",
         "Return stop ids in visiting order"),
    }
    cli = facts_of('run = commands.add_parser("run-invoices", help="Generate invoices.")\n'
                   'run.add_argument(\n    "--batch-size", type=int, default=500, help="Customers'
                   ' per batch (default:\n500)."', path="billing/cli.py",
                   section="billing/cli.py > build_parser")  # cut off before its ")"
    assert triples(cli) >= {
        ("cli_flag", "the run-invoices command", "purpose", "Generate invoices"),
        ("cli_flag", "the --batch-size flag of run-invoices", "default value", "500"),
        ("cli_flag", "the --batch-size flag of run-invoices", "purpose", "Customers per batch"),
    }


def test_config_files_yaml_and_env() -> None:
    yaml_facts = facts_of("# platform-api production settings.\nserver:\n  port: 8443\n"
                          "  workers: 8\ndatabase:\n  password: [REDACTED:password]\n",
                          path="config/settings.yaml", section="config/settings.yaml")
    assert triples(yaml_facts) >= {
        ("config", "server.port in config/settings.yaml", "value", "8443"),
        ("config", "the server workers setting", "value", "8"),
        ("code_purpose", "config/settings.yaml", "purpose", "platform-api production settings"),
    }
    assert not [f for f in yaml_facts if "password" in f.subject]
    env = facts_of("AWS_REGION=us-east-2\nAWS_SECRET=[REDACTED:aws_secret_key]\n",
                   path="deploy/aws.env", section="deploy/aws.env")
    assert triples(env) == {("config", "AWS_REGION in deploy/aws.env", "value", "us-east-2"),
                            ("config", "the aws region setting", "value", "us-east-2")}


def test_scrubbed_values_never_become_facts() -> None:
    facts, stats = extract_with_stats(Chunk(
        "c", "d", "t", "Contact: [EMAIL].\nPhone | Owner\n[PHONE] | Ann Lee\n"
        "The token is [REDACTED:github_token] and expires after 30 days.", path="x.md"))
    for fact in facts:
        assert "[" not in fact.answer + fact.evidence + fact.subject
    assert stats["placeholder"] >= 2


def test_answer_normalisation_support_and_matching() -> None:
    assert normalize_answer("$1,800.") == "$1800"
    assert answer_supported("25 days per year", "Paid time off | 25 days per year | Accrues")
    assert not answer_supported("26 days", "Paid time off | 25 days per year")
    assert answer_supported("stops, deadline_s", "def f(deadline_s, stops)")
    assert answers_match("$310", "$310 per night")
    assert not answers_match("$1,800", "$1,800 per calendar year for courses")
    assert not answers_match("4", "4 business days after the end of every quarter")
