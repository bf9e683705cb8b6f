"""A minimal warehouse for synthesis tests: the marts and raw tables synthesis reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

HANDBOOK_TIME_OFF = """Leave type | Allowance | Notes
Paid time off | 25 days per year | Accrues monthly
Parental leave | 16 weeks | Fully paid for all parents"""

HANDBOOK_SECURITY = """Owner: Rebecca Osei, Head of People.
Passwords must be at least 14 characters long and stored only in the VaultKey password manager.
Security logs are retained for 400 days.
Report incidents to [EMAIL] or [PHONE]."""

CONSTANTS_PY = '''"""Business constants for invoicing."""

INVOICE_DUE_DAYS = 30
LATE_FEE_PERCENT_PER_MONTH = 1.5
'''

PRICE_LIST = """SKU | Product | List price
NW-FLT-200 | Fleet Pro | $1,450
NW-FLT-300 | Fleet Enterprise | $4,800"""

STATUS_MD = """Overall health: GREEN
Payment success rate: 98.8%
Invoices generated this week: 2,063"""

OTHER_TENANT = "The bastion host accepts SSH on port 2222."


@dataclass(frozen=True)
class Doc:
    document_id: str
    tenant: str
    route: str
    path: str
    chunks: tuple[tuple[str, str], ...]  # (section, text)
    version: int = 1


def content_hash(doc: Doc) -> str:
    return hashlib.sha256(repr(doc.chunks).encode()).hexdigest()


def chunk_id(doc: Doc, index: int) -> str:
    return hashlib.sha256(f"{doc.document_id}|{content_hash(doc)}|{index}".encode()
                          ).hexdigest()[:24]


def default_docs() -> list[Doc]:
    return [
        Doc("d-handbook", "acme", "static", "handbook/handbook.md",
            (("Handbook > Time off", HANDBOOK_TIME_OFF),
             ("Handbook > Security", HANDBOOK_SECURITY))),
        Doc("d-constants", "acme", "static", "billing/constants.py",
            (("billing/constants.py", CONSTANTS_PY),)),
        Doc("d-prices", "acme", "static", "pricing/price-list.html",
            (("Price List > Subscriptions", PRICE_LIST),)),
        Doc("d-status", "acme", "volatile", "STATUS.md", (("Weekly status", STATUS_MD),)),
        Doc("d-other", "globex", "static", "runbooks/bastion.txt", (("Bastion", OTHER_TENANT),)),
    ]


SCHEMA = """
create schema if not exists marts;
create schema if not exists raw;
create or replace table marts.chunks_for_index (
    chunk_id varchar, document_id varchar, tenant varchar, acl_groups varchar[], route varchar,
    source_id varchar, path varchar, section varchar, text varchar, n_tokens integer);
create or replace table marts.chunks_for_training (
    chunk_id varchar, document_id varchar, tenant varchar, acl_groups varchar[], route varchar,
    source_id varchar, path varchar, section varchar, text varchar, n_tokens integer,
    fact_bits double);
create or replace table raw.chunks (
    chunk_id varchar, document_id varchar, content_hash varchar, chunk_index integer,
    section varchar, text varchar, n_tokens integer, element_types varchar[]);
create or replace table raw.document_versions (
    document_id varchar, content_hash varchar, version_number integer,
    observed_at timestamptz);
"""


def load_docs(con: duckdb.DuckDBPyConnection, docs: list[Doc]) -> None:
    """Write `docs` as the current state: marts hold them; raw keeps every version seen."""
    con.execute(SCHEMA.replace("create or replace table raw", "create table if not exists raw"))
    con.execute("delete from marts.chunks_for_index")
    con.execute("delete from marts.chunks_for_training")
    for doc in docs:
        digest = content_hash(doc)
        con.execute("insert into raw.document_versions select ?, ?, ?, now() where not exists "
                    "(select 1 from raw.document_versions where document_id = ? and "
                    "content_hash = ?)", [doc.document_id, digest, doc.version, doc.document_id,
                                          digest])
        for index, (section, text) in enumerate(doc.chunks):
            cid = chunk_id(doc, index)
            row = [cid, doc.document_id, doc.tenant, [doc.tenant], doc.route, f"src-{doc.tenant}",
                   doc.path, section, text, len(text.split())]
            con.execute("insert into marts.chunks_for_index values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        row)
            if doc.route == "static":
                con.execute("insert into marts.chunks_for_training values "
                            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [*row, 10.0])
            con.execute("insert into raw.chunks select ?, ?, ?, ?, ?, ?, ?, ['Text'] where not "
                        "exists (select 1 from raw.chunks where chunk_id = ?)",
                        [cid, doc.document_id, digest, index, section, text, len(text.split()),
                         cid])


def make_warehouse(path: str, docs: list[Doc] | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(path)
    load_docs(con, default_docs() if docs is None else docs)
    return con
