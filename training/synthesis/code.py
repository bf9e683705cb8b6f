"""Facts from source code and configuration files.

Chunks of code are fragments (a function, part of a class), often with line breaks moved by
the chunker, so this reads them with tolerant patterns instead of a parser: docstrings give
purposes, `def` lines give parameters and defaults, `NAME = value` gives constants,
`add_argument(...)` gives command-line flags, and YAML/TOML/INI/env lines give settings.
"""

from __future__ import annotations

import re

from training.synthesis.builder import FactBuilder
from training.synthesis.normalize import clean, has_placeholder
from training.synthesis.prose import sentence_facts, split_sentences

CODE_EXTENSIONS = frozenset(".py .js .ts .go .java .rb .rs .kt .scala .c .cc .cpp .h .hpp .cs "
                            ".php .swift .sh .bash .zsh .ps1".split())
CONFIG_EXTENSIONS = frozenset(".yaml .yml .toml .ini .cfg .conf .env .properties".split())
DOCSTRING_RE = re.compile(r'("""|\'\'\')(.*?)\1', re.S)
CONSTANT_RE = re.compile(
    r"(?m)^\s*([A-Z][A-Z0-9_]{2,})\s*(?::\s*[\w\[\], .|]+?)?\s*=\s*"
    r"(\"[^\"\n]*\"|'[^'\n]*'|\([^()]*\)|\[[^\[\]]*\]|[^\s#]+)(?:\s*\n\s*\"\"\"(.*?)\"\"\")?",
    re.S)
DEF_RE = re.compile(r"\bdef\s+(\w+)\s*\((.*?)\)\s*(?:->\s*([^:]+?))?\s*:", re.S)
CLASS_RE = re.compile(r"\bclass\s+(\w+)\s*(?:\(([^)]*)\))?\s*:")


def is_code(path: str) -> bool:
    return any(path.endswith(ext) for ext in CODE_EXTENSIONS)


def is_config(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return any(name.endswith(ext) for ext in CONFIG_EXTENSIONS) or name.startswith(".env")


def humanize(identifier: str) -> str:
    """`ACCESS_TOKEN_TTL_MINUTES` -> "access token ttl minutes"."""
    return re.sub(r"[_.\-]+", " ", identifier).strip().lower()


def _first_sentence(doc: str) -> str:
    text = clean(doc)
    sentences = split_sentences(text)
    return sentences[0] if sentences else text


def _code_owner(b: FactBuilder) -> str:
    """What the chunk's code belongs to: "function next_action in billing/dunning.py"."""
    parts = [p.strip() for p in b.chunk.section.split(" > ") if p.strip()]
    name = parts[-1] if parts and parts[-1] != b.chunk.path else ""
    return f"{name} in {b.chunk.path}" if name else b.chunk.path


def _split_params(params: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in params:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [clean(p) for p in out if clean(p) and clean(p) not in {"*", "/", "self", "cls"}]


def python_facts(b: FactBuilder, text: str, max_spans: int) -> None:
    flat = text
    module_doc = re.match(r'\s*("""|\'\'\')(.*?)\1', flat, re.S)
    if module_doc and " > " not in b.chunk.section:
        purpose = _first_sentence(module_doc.group(2))
        b.add("code_purpose", b.chunk.path, "purpose", purpose, purpose, long_answer=True,
              question=f"What is {b.chunk.path} for?")
    for m in CLASS_RE.finditer(flat):
        doc = DOCSTRING_RE.match(flat[m.end():].lstrip())
        if doc:
            purpose = _first_sentence(doc.group(2))
            b.add("code_purpose", f"class {m.group(1)} in {b.chunk.path}", "purpose", purpose,
                  purpose, long_answer=True)
    for m in DEF_RE.finditer(flat):
        _function_facts(b, m, flat)
    for m in CONSTANT_RE.finditer(flat):
        name, value, doc = m.group(1), m.group(2).strip(), m.group(3)
        if has_placeholder(value):
            continue
        b.add("constant", name, "value", value, m.group(0).strip(), answer_type="value",
              question=f"What is {name} set to in {b.chunk.path}?")
        b.add("constant", f"the {humanize(name)} in {b.chunk.path}", "value", value,
              m.group(0).strip(), answer_type="value")
        if doc:
            b.add("code_purpose", f"the constant {name}", "meaning", _first_sentence(doc), doc,
                  long_answer=True, question=f"What does {name} stand for?")
    cli_facts(b, flat)
    for doc in DOCSTRING_RE.finditer(flat):  # facts stated in docstrings are prose
        for line in clean(doc.group(2)).split(". "):
            sentence_facts(b, line, frozenset(), max_spans)


def _function_facts(b: FactBuilder, m: re.Match[str], flat: str) -> None:
    name, params, returns = m.group(1), _split_params(m.group(2)), m.group(3)
    where = f"the function {name} in {b.chunk.path}"
    names = [re.split(r"[:=]", p, maxsplit=1)[0].strip() for p in params]
    if names:
        b.add("code_signature", where, "parameters", ", ".join(names),
              f"def {name}({', '.join(params)})", long_answer=True)
    if returns and clean(returns) != "None" and not has_placeholder(returns):
        b.add("code_signature", where, "return type", clean(returns),
              f"def {name}(...) -> {clean(returns)}")
    for p in params:
        if "=" in p:
            pname, default = (s.strip() for s in p.split("=", 1))
            pname = pname.split(":")[0].strip()
            b.add("code_default", f"the {pname} parameter of {name}", "default value", default,
                  f"def {name}(... {p} ...)", answer_type="value")
    doc = DOCSTRING_RE.match(flat[m.end():].lstrip())
    if doc:
        purpose = _first_sentence(doc.group(2))
        b.add("code_purpose", where, "purpose", purpose, purpose, long_answer=True,
              question=f"What does {name} do?")


def _balanced_call(text: str, start: int) -> str | None:
    """Argument text of the call whose "(" is at `start`, honouring quotes.

    A call the chunk cuts off after its last complete argument still counts (chunks end
    mid-call); one cut inside a string does not.
    """
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1:i]
        i += 1
    rest = text[start + 1:]
    return rest if not quote and re.search(r"[\"']\s*,?\s*$", rest) else None


def _kwarg(args: str, name: str) -> str | None:
    m = re.search(rf"\b{name}\s*=\s*(\"[^\"]*\"|'[^']*'|\[[^\]]*\]|[^,)]+)", args)
    return clean(m.group(1)).strip("\"'") if m else None


def cli_facts(b: FactBuilder, text: str) -> None:
    """`add_parser("cmd")` and `add_argument("--flag", default=..., help=...)` calls."""
    commands: dict[str, str] = {}
    for m in re.finditer(r"(\w+)\s*=\s*\w+\.add_parser\(", text):
        args = _balanced_call(text, m.end() - 1)
        name = re.match(r"\s*[\"']([\w-]+)[\"']", args or "")
        if not args or not name:
            continue
        commands[m.group(1)] = name.group(1)
        helptext = _kwarg(args, "help")
        if helptext:
            b.add("cli_flag", f"the {name.group(1)} command", "purpose", helptext, args,
                  long_answer=True, question=f"What does the {name.group(1)} command do?")
    for m in re.finditer(r"(\w+)\.add_argument\(", text):
        args = _balanced_call(text, m.end() - 1)
        flag = re.match(r"\s*[\"'](-{1,2}[\w-]+)[\"']", args or "")
        if not args or not flag:
            continue
        command = commands.get(m.group(1))
        owner = f"the {flag.group(1)} flag" + (f" of {command}" if command else "")
        helptext = _kwarg(args, "help")
        default = _kwarg(args, "default")
        if helptext and (shown := re.search(r"\(default:\s*([^)]+)\)", helptext)):
            default = clean(shown.group(1)).rstrip(".")
            helptext = clean(helptext[:shown.start()])
        if default:
            b.add("cli_flag", owner, "default value", default, args, answer_type="value",
                  question=f"What is the default of {flag.group(1)}?")
        if helptext:
            b.add("cli_flag", owner, "purpose", helptext.rstrip("."), args, long_answer=True,
                  question=f"What does {flag.group(1)} do?")
        choices = _kwarg(args, "choices")
        if choices:
            b.add("cli_flag", owner, "allowed values", choices.strip("[]").replace('"', ""),
                  args, long_answer=True)


def config_facts(b: FactBuilder, text: str) -> None:
    """YAML (nested by indentation), TOML/INI sections, `KEY=value` env lines."""
    stack: list[tuple[int, str]] = []
    section = ""
    comment_done = False
    for raw in text.split("\n"):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(("#", ";")):
            comment = stripped.lstrip("#; ").strip()
            if not comment_done and len(comment.split()) >= 3 and not has_placeholder(comment):
                b.add("code_purpose", b.chunk.path, "purpose", comment, comment,
                      long_answer=True, question=f"What is {b.chunk.path} for?")
            comment_done = True
            continue
        comment_done = True
        if re.fullmatch(r"\[[\w.\- \"]+\]", stripped):
            section = stripped.strip("[]").strip('"')
            continue
        m = re.match(r"^(\s*)([\w.\-\"]+)\s*(:|=)\s*(.*)$", line)
        if not m:
            continue
        indent, key, value = len(m.group(1)), m.group(2).strip('"'), m.group(4).strip()
        value = re.sub(r"\s+#.*$", "", value).strip().strip("\"'")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if m.group(3) == ":" and not value:
            stack.append((indent, key))
            continue
        if not value or has_placeholder(value) or value in {"|", ">"}:
            continue
        path = ".".join([section] * bool(section) + [k for _, k in stack] + [key])
        b.add("config", f"{path} in {b.chunk.path}", "value", value, stripped,
              answer_type="value", question=f"What is {path} set to in {b.chunk.path}?")
        b.add("config", f"the {humanize(path)} setting", "value", value, stripped,
              answer_type="value")
