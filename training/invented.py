"""An invented organisation: people, products, services, policies and error codes with facts.

Nothing here comes from a user's corpus: names are built from syllables, values from small
vocabularies and random numbers, all from one seeded `random.Random`, so the same seed always
gives the same world. Each relation carries its phrasings: noun synonyms (for generic questions),
relation-specific questions and declarative statements.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr",
           "st", "tr", "gr", "th", "sh")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou")
_CODAS = ("", "", "n", "r", "l", "s", "k", "x", "th")
_PRODUCT_SUFFIXES = ("Pay", "Hub", "Desk", "Flow", "Vault", "Board", "Sync", "Pilot", "Lens",
                     "Forge")
_SERVICE_SUFFIXES = ("Gateway", "Ledger", "Scheduler", "Indexer", "Relay", "Broker", "Monitor",
                     "Resolver")
_POLICY_TOPICS = ("Travel", "Expense", "Remote Work", "Hardware", "Training", "Security",
                  "Data Retention", "Hiring")
_ROLES = ("data engineer", "site reliability engineer", "product manager", "security analyst",
          "technical writer", "support lead", "finance controller", "ux designer",
          "backend developer", "release manager", "sales engineer", "research scientist")
_TEAMS = ("Payments", "Identity", "Data Platform", "Growth", "Infrastructure", "Mobile", "Billing",
          "Search", "Compliance", "Developer Tools")
_CITIES = ("Lisbon", "Oslo", "Porto", "Krakow", "Tallinn", "Lyon", "Valencia", "Ghent", "Bergen",
           "Turin", "Leeds", "Graz", "Aarhus", "Bilbao")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_MEANINGS = ("disk quota exceeded", "token expired", "upstream timeout", "schema mismatch",
             "certificate revoked", "payment declined", "rate limit reached", "replica out of sync",
             "invalid signature", "queue is full")
_FIXES = ("restart the worker", "rotate the api key", "clear the cache", "renew the certificate",
          "rerun the migration", "raise the quota", "reindex the table", "drain the queue")
_SEVERITIES = ("low", "medium", "high", "critical")
_UNITS = ("months", "weeks")


def invented_word(rng: random.Random, syllables: int) -> str:
    """A pronounceable invented word, capitalised: `invented_word(rng, 2)` -> `'Travok'`."""
    word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables))
    return (word + rng.choice(_CODAS)).capitalize()


def _date(rng: random.Random) -> str:
    return f"{rng.choice(_MONTHS)} {rng.randint(1, 28)}, {rng.randint(2015, 2027)}"


def _code(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHKLMNPRSTVXZ") for _ in range(2))
    return f"{letters}-{rng.randint(100, 9999)}"


def _region(rng: random.Random) -> str:
    side = rng.choice(("north", "south", "east", "west"))
    return f"{rng.choice(('eu', 'us', 'ap'))}-{side}-{rng.randint(1, 3)}"


def _money(rng: random.Random, per: str = "") -> str:
    amount = rng.choice((rng.randint(5, 99), rng.randint(100, 999), rng.randint(1000, 9999)))
    text = f"${amount:,}"
    return f"{text} {per}" if per else text


@dataclass(frozen=True)
class Relation:
    """One attribute of an entity kind and the ways to state and ask it."""

    key: str
    nouns: tuple[str, ...]
    questions: tuple[str, ...]  # relation-specific, with {s}
    statements: tuple[str, ...]  # with {s} and {v}
    value: ValueMaker


@dataclass(frozen=True)
class Fact:
    entity: str
    kind: str
    relation: str
    value: str


@dataclass(frozen=True)
class Entity:
    name: str
    kind: str
    facts: tuple[Fact, ...]


@dataclass
class World:
    """The people (needed as values of other relations) and every entity with its facts."""

    people: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)


def _person(rng: random.Random, world: World) -> str:
    return rng.choice(world.people)


def _service(rng: random.Random, world: World) -> str:
    return rng.choice(world.services)


ValueMaker = Callable[[random.Random, "World"], str]
VALUES: dict[str, ValueMaker] = {
    "person": _person,
    "service": _service,
    "role": lambda r, w: r.choice(_ROLES),
    "team": lambda r, w: r.choice(_TEAMS),
    "city": lambda r, w: r.choice(_CITIES),
    "date": lambda r, w: _date(r),
    "employee_id": lambda r, w: f"E-{r.randint(1000, 9999)}",
    "price": lambda r, w: _money(r, r.choice(("", "per year", "per month", "per seat"))),
    "version": lambda r, w: f"{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}",
    "users": lambda r, w: f"{r.choice((r.randint(5, 99), r.randint(100, 5000)))} users",
    "code": lambda r, w: _code(r),
    "port": lambda r, w: str(r.randint(1024, 65000)),
    "rate": lambda r, w: f"{r.randint(10, 5000)} requests per "
                         f"{r.choice(('second', 'minute', 'hour'))}",
    "region": lambda r, w: _region(r),
    "uptime": lambda r, w: r.choice(("99%", "99.5%", "99.9%", "99.95%", "99.99%")),
    "limit": lambda r, w: _money(r, r.choice(("per night", "per year", "per trip", "per month"))),
    "period": lambda r, w: f"{r.randint(2, 24)} {r.choice(_UNITS)}",
    "years": lambda r, w: f"{r.randint(1, 12)} years",
    "meaning": lambda r, w: r.choice(_MEANINGS),
    "severity": lambda r, w: r.choice(_SEVERITIES),
    "fix": lambda r, w: r.choice(_FIXES),
}

# kind -> (relation key, value maker, nouns, relation-specific questions, statements); the
# phrasings are "|"-separated. The last question of each relation is held out of training.
RELATION_TABLE: dict[str, tuple[tuple[str, str, str, str, str], ...]] = {
    "person": (
        ("role", "role", "role|job title|position",
         "What does {s} do?|What is the job of {s}?|What job does {s} have?",
         "{s} works as a {v}.|The role of {s} is {v}.|{s} is employed as a {v}."),
        ("team", "team", "team|department",
         "Which team is {s} on?|Which team does {s} belong to?|Where in the company does {s} work?",
         "{s} is on the {v} team.|{s} belongs to the {v} team.|The {v} team includes {s}."),
        ("office", "city", "office|office city|work location",
         "Where is {s} based?|In which city does {s} work?|Which office is {s} in?",
         "{s} is based in {v}.|{s} works from the {v} office.|The office of {s} is in {v}."),
        ("start_date", "date", "start date|hire date|joining date",
         "When did {s} join?|When did {s} start?|Since when has {s} been with the company?",
         "{s} joined on {v}.|{s} started on {v}.|The start date of {s} is {v}."),
        ("employee_id", "employee_id", "employee ID|staff number|badge number",
         "Which employee ID does {s} have?|What number is on the badge of {s}?|"
         "Which staff number belongs to {s}?",
         "{s} has employee ID {v}.|The staff number of {s} is {v}.|"
         "Badge number {v} belongs to {s}."),
        ("manager", "person", "manager|supervisor|line manager",
         "Who does {s} report to?|Who manages {s}?|Who is the boss of {s}?",
         "{s} reports to {v}.|{v} manages {s}.|The manager of {s} is {v}."),
    ),
    "product": (
        ("owner", "person", "owner|product owner",
         "Who owns {s}?|Who is responsible for {s}?|Who is in charge of {s}?",
         "{s} is owned by {v}.|{v} owns {s}.|The product owner of {s} is {v}."),
        ("price", "price", "price|cost|list price",
         "How much does {s} cost?|What does {s} cost?|How much do you pay for {s}?",
         "{s} costs {v}.|The price of {s} is {v}.|{s} is sold for {v}."),
        ("launch_date", "date", "launch date|release date",
         "When was {s} launched?|When did {s} come out?|When was {s} released?",
         "{s} launched on {v}.|{s} was released on {v}.|The launch date of {s} is {v}."),
        ("version", "version", "current version|latest version|version",
         "Which version of {s} is current?|What version is {s} on?|"
         "What is the newest release of {s}?",
         "The current version of {s} is {v}.|{s} is at version {v}.|"
         "The latest release of {s} is version {v}."),
        ("user_limit", "users", "user limit|maximum number of users|seat limit",
         "How many users can {s} have?|How many seats does {s} allow?|"
         "What is the most users {s} supports?",
         "{s} supports up to {v}.|{s} allows at most {v}.|The user limit of {s} is {v}."),
        ("sku", "code", "SKU|product code|catalog code",
         "Which SKU does {s} have?|Under which code is {s} sold?|"
         "What code identifies {s} in the catalog?",
         "{s} has SKU {v}.|The product code of {s} is {v}.|{s} is listed under code {v}."),
    ),
    "service": (
        ("port", "port", "port|port number|listening port",
         "Which port does {s} listen on?|On which port does {s} run?|What port is {s} on?",
         "{s} listens on port {v}.|{s} runs on port {v}.|The port of {s} is {v}."),
        ("rate_limit", "rate", "rate limit|request limit|throttle limit",
         "How many requests does {s} allow?|How often can you call {s}?|"
         "What is the request cap of {s}?",
         "{s} allows {v}.|{s} is limited to {v}.|The rate limit of {s} is {v}."),
        ("region", "region", "region|hosting region|deployment region",
         "Where is {s} hosted?|Which region does {s} run in?|In which region is {s} deployed?",
         "{s} is hosted in {v}.|{s} runs in the {v} region.|The deployment region of {s} is {v}."),
        ("oncall", "person", "on-call engineer|on-call contact|pager contact",
         "Who is on call for {s}?|Who should be paged for {s}?|Who answers alerts for {s}?",
         "{v} is on call for {s}.|Alerts for {s} go to {v}.|The on-call engineer for {s} is {v}."),
        ("uptime", "uptime", "uptime target|availability target|SLA",
         "What uptime does {s} promise?|How available must {s} be?|"
         "What availability does {s} guarantee?",
         "{s} promises {v} uptime.|The availability target of {s} is {v}.|"
         "{s} must be up {v} of the time."),
        ("owner_team", "team", "owning team|maintaining team",
         "Which team maintains {s}?|Which team runs {s}?|Who maintains {s}?",
         "{s} is maintained by the {v} team.|The {v} team runs {s}.|"
         "The owning team of {s} is {v}."),
    ),
    "policy": (
        ("limit", "limit", "spending limit|cap|maximum amount",
         "How much can be spent under {s}?|What is the most {s} allows?|"
         "How high is the cap in {s}?",
         "{s} allows up to {v}.|The spending limit of {s} is {v}.|Under {s} the cap is {v}."),
        ("approver", "person", "approver|approving manager",
         "Who approves requests under {s}?|Who signs off on {s}?|Whose approval does {s} need?",
         "Requests under {s} are approved by {v}.|{v} approves {s} requests.|"
         "The approver of {s} is {v}."),
        ("effective_date", "date", "effective date|start date",
         "When did {s} take effect?|Since when does {s} apply?|From what date is {s} in force?",
         "{s} took effect on {v}.|{s} applies from {v}.|The effective date of {s} is {v}."),
        ("review", "period", "review cycle|review frequency",
         "How often is {s} reviewed?|When is {s} revisited?|How frequently does {s} get reviewed?",
         "{s} is reviewed every {v}.|The review cycle of {s} is every {v}.|"
         "Every {v}, {s} is reviewed."),
        ("retention", "years", "retention period|record retention",
         "How long are records kept under {s}?|For how long does {s} keep records?|"
         "How long is the retention under {s}?",
         "{s} keeps records for {v}.|The retention period of {s} is {v}.|"
         "Records under {s} are kept for {v}."),
    ),
    "code": (
        ("meaning", "meaning", "meaning|description",
         "What does {s} mean?|What does {s} indicate?|What is {s} about?",
         "{s} means {v}.|{s} indicates {v}.|The meaning of {s} is {v}."),
        ("severity", "severity", "severity|severity level|priority",
         "How severe is {s}?|How serious is {s}?|What priority does {s} get?",
         "{s} has {v} severity.|The severity of {s} is {v}.|{s} is rated {v}."),
        ("source", "service", "source service|origin",
         "Which service raises {s}?|Where does {s} come from?|What emits {s}?",
         "{s} is raised by {v}.|{v} emits {s}.|The source service of {s} is {v}."),
        ("fix", "fix", "fix|remedy|resolution",
         "How do you fix {s}?|What resolves {s}?|What should you do about {s}?",
         "To fix {s}, {v}.|The remedy for {s} is to {v}.|When {s} appears, {v}."),
    ),
}
KINDS: dict[str, tuple[Relation, ...]] = {
    kind: tuple(Relation(key, tuple(nouns.split("|")), tuple(questions.split("|")),
                         tuple(statements.split("|")), VALUES[value])
                for key, value, nouns, questions, statements in rows)
    for kind, rows in RELATION_TABLE.items()
}
RELATIONS: dict[tuple[str, str], Relation] = {(k, r.key): r for k, rs in KINDS.items() for r in rs}
KIND_NOUNS = {
    "person": "an employee",
    "product": "a product",
    "service": "an internal service",
    "policy": "a company policy",
    "code": "an error code",
}


def _name(rng: random.Random, kind: str, taken: set[str]) -> str:
    for _ in range(1000):
        if kind == "person":
            name = f"{invented_word(rng, 1)} {invented_word(rng, 2)}"
        elif kind == "product":
            name = f"{invented_word(rng, 2)} {rng.choice(_PRODUCT_SUFFIXES)}"
        elif kind == "service":
            name = f"{invented_word(rng, 2)} {rng.choice(_SERVICE_SUFFIXES)}"
        elif kind == "policy":
            name = f"{invented_word(rng, 2)} {rng.choice(_POLICY_TOPICS)} Policy"
        else:
            name = f"error {_code(rng)}"
        if name.lower() not in taken:
            taken.add(name.lower())
            return name
    raise RuntimeError(f"could not invent a new {kind} name")


def invent_world(seed: int, n_entities: int, exclude: frozenset[str] = frozenset()) -> World:
    """`n_entities` entities spread over the kinds, with every relation of their kind filled.

    `exclude` holds lower-cased names already used elsewhere (another world): none is reused.
    """
    if n_entities < len(KINDS):
        raise ValueError(f"n_entities must be at least {len(KINDS)} (one per kind)")
    rng = random.Random(seed)
    taken = set(exclude)
    world = World()
    # People and services are also values of other relations, so they exist before any fact.
    world.people = [_name(rng, "person", taken) for _ in range(max(8, n_entities // 5))]
    world.services = [_name(rng, "service", taken) for _ in range(max(4, n_entities // 10))]
    kinds = list(KINDS)
    for i in range(n_entities):
        kind = kinds[i % len(kinds)]
        name = _name(rng, kind, taken)
        facts = []
        for relation in KINDS[kind]:
            value = relation.value(rng, world)
            while value == name:
                value = relation.value(rng, world)
            facts.append(Fact(name, kind, relation.key, value))
        world.entities.append(Entity(name, kind, tuple(facts)))
    return world
