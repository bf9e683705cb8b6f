"""GitHub as a source: an organisation's (or user's) repositories through the REST API.

Each repository becomes a source of its own in the warehouse (``<source>--<repo>``) so that its
access groups, mapped from the repository's visibility and teams, travel with every document
downstream exactly as a plain source's ``acl_groups`` do. Its files and history are read from a
clone like a ``git`` source; its issues and pull requests become one Markdown document each.
"""
