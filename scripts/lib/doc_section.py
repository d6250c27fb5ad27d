"""Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in a Markdown
file (appending the section when it is not there yet), so scripts can refresh their figures
without touching what others wrote.

usage: python3 scripts/lib/doc_section.py FILE NAME < new-content.md
"""
import pathlib
import sys

path, name = pathlib.Path(sys.argv[1]), sys.argv[2]
body = sys.stdin.read().strip("\n")
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
text = path.read_text() if path.exists() else ""
block = f"{begin}\n{body}\n{end}"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = head + block + tail
else:
    text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
path.write_text(text)
