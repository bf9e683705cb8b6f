"""Which parser a file goes to, decided by its name."""

from pathlib import PurePosixPath

DOCUMENT_FORMATS = {
    ".md": "md", ".markdown": "md", ".txt": "txt", ".text": "txt", ".rst": "txt",
    ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx", ".ipynb": "ipynb",
}
# Source code and configuration read as plain text, sectioned by top-level definitions.
CODE_SUFFIXES = {
    ".py", ".js", ".ts", ".tsx", ".jsx", ".go", ".rs", ".java", ".kt", ".scala", ".rb", ".php",
    ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".swift", ".sh", ".bash", ".sql", ".yaml", ".yml",
    ".toml", ".ini", ".cfg", ".conf", ".json", ".proto", ".tf", ".hcl", ".env", ".properties",
    ".gradle", ".mk", ".r", ".lua", ".pl", ".ex", ".exs", ".erl", ".hs", ".ml", ".vue", ".css",
    ".scss",
}
CODE_NAMES = {"Makefile", "Dockerfile", "Procfile", "Jenkinsfile", ".env", "CODEOWNERS"}


def detect_format(path: str) -> str | None:
    """'md' | 'txt' | 'html' | 'pdf' | 'docx' | 'ipynb' | 'code'; None for files not read."""
    name = PurePosixPath(path).name
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in DOCUMENT_FORMATS:
        return DOCUMENT_FORMATS[suffix]
    if suffix in CODE_SUFFIXES or name in CODE_NAMES or name.startswith(".env"):
        return "code"
    return None
