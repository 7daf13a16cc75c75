"""What every claims test reads of a chapter: its sentences, its code cells, its solutions.

Each tests/claims/test_<chapter>.py holds one test per quantitative statement of that chapter's
prose: the test checks that the chapter still says the sentence (``Chapter.says``) and computes the
fact from the package. An author who changes a number or a sentence sees which test depends on it.
"""

import ast
import re
from pathlib import Path

BOOK = Path(__file__).resolve().parents[2] / "book"


class Chapter:
    def __init__(self, name):
        self.name = name
        self.source = (BOOK / f"{name}.md").read_text(encoding="utf-8")
        self.prose = " ".join(self.source.split())

    def says(self, sentence):
        """The chapter's source contains ``sentence``, whatever its line breaks."""
        return " ".join(sentence.split()) in self.prose

    def code_cells(self, text=None):
        """(options, code) of each ``{code-cell}``: its option lines or YAML header, and its code."""
        cells = []
        for body in re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", text or self.source, re.S | re.M):
            if body.startswith("---\n"):
                options, _, code = body[4:].partition("\n---\n")
            else:
                lines = body.split("\n")
                option_lines = [line for line in lines if re.match(r"^:[\w-]+:", line)]
                options, code = "\n".join(option_lines), "\n".join(lines[len(option_lines):])
            cells.append((options, code.strip("\n")))
        return cells

    def setup_code(self):
        (code,) = [code for options, code in self.code_cells() if "thebe-init" in options]
        return code

    def solutions(self, shown=False):
        """{exercise label: the code of each cell of its solution}, in the chapter's order; with ``shown``,
        only the cells a reader sees (not those removed: glue)."""
        pattern = r"^```\{solution-start\} (\S+)\n(.*?)^```\{solution-end\}"
        blocks = re.findall(pattern, self.source, re.S | re.M)
        return {label: [code for options, code in self.code_cells(body)
                        if not (shown and "remove-cell" in options)] for label, body in blocks}

    def run_solutions_alone(self):
        """Run each solution after only the set-up cell, in a fresh namespace, as a reader of live code
        would; returns the labels run. An exception propagates with the solution's label as file name."""
        found = self.solutions()
        for label, cells in found.items():
            namespace = {}
            exec(compile(self.setup_code(), f"{self.name}:setup", "exec"), namespace)
            for code in cells:
                exec(compile(code, f"{self.name}:{label}", "exec"), namespace)
        return sorted(found)

    def bare_references(self):
        """Each ``{ref}`label``` without words of its own (it renders as the title), outside parentheses."""
        return [m.group(0) for m in re.finditer(r"(.)\{ref\}`[^`<]+`(.)", self.prose)
                if not (m.group(1) == "(" and m.group(2) == ")")]

    def hidden_computations(self):
        """Statements of removed cells that do more than glue a value computed in a visible cell."""
        offending = []
        for options, code in self.code_cells():
            if "remove-cell" in options or "remove-input" in options:
                for statement in ast.parse(code).body:
                    call = getattr(statement, "value", None)
                    is_glue = isinstance(call, ast.Call) and getattr(call.func, "id", None) == "glue"
                    if not (is_glue and all(_plain(arg) for arg in call.args[1:2])):
                        offending.append(ast.unparse(statement))
        return offending


def _plain(node):
    """Bookkeeping: a name, a constant, an attribute or index of one, float/int/len/abs or .numpy() of one."""
    if isinstance(node, (ast.Name, ast.Constant)):
        return True
    if isinstance(node, ast.Attribute):
        return _plain(node.value)
    if isinstance(node, ast.Subscript):
        return _plain(node.value) and _plain(node.slice)
    if isinstance(node, ast.UnaryOp):
        return _plain(node.operand)
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) in {"float", "int", "len", "abs"}:
        return all(_plain(arg) for arg in node.args)
    if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in {"numpy", "item"} and not node.args:
        return _plain(node.func.value)
    return False
