"""sqlwhere.py - the small, safe subset of ArcGIS "standardized SQL" that the
emulator accepts in `where` (ARCGIS.md 7.3), parsed without eval.

Grammar (keywords and field names case-insensitive):

  expr    := term (OR term)*          term := factor (AND factor)*
  factor  := NOT factor | '(' expr ')' | operand rest
  rest    := cmp operand | [NOT] IN '(' literal, ... ')' | IS [NOT] NULL
           | [NOT] LIKE 'pattern' | [NOT] BETWEEN operand AND operand
  cmp     := = | <> | != | < | <= | > | >=
  operand := field | number | -number | 'string' ('' escapes a quote)
           | DATE 'YYYY-MM-DD' | TIMESTAMP 'YYYY-MM-DD HH:MI[:SS[.fff]]'

Anything else (functions, arithmetic, double-quoted names, ';', unknown
fields, a number compared with a text field, a date field with anything but
a DATE/TIMESTAMP literal) raises WhereError, which the server turns into the
ArcGIS 400 error JSON.  Evaluation is SQL's three-valued logic: a comparison
with NULL is unknown (None) and an unknown row does not match.

compile_where() returns a Where: .match(row) -> bool, .canon (a canonical
text: the same for `OBJECTID>5` and `objectid > 5`), .oid_bounds (a range
of the OID field that every matching row falls in, so a range page over
300,000 rows bisects instead of scanning) and .always (no field used and
true: `1=1`).
"""
import calendar
import math
import re

NUM, STR, DATE = "num", "str", "date"
KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "BETWEEN", "DATE", "TIMESTAMP"}
CMP_OPS = {"=", "<>", "!=", "<", "<=", ">", ">="}
TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)
  | (?P<str>'(?:[^']|'')*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><>|!=|<=|>=|[=<>(),-])
  )""", re.X)
TS = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?$")


class WhereError(ValueError):
    pass


def tokenize(text):
    out, pos, text = [], 0, text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise WhereError(f"unexpected character at {pos}: {text[pos:pos + 10]!r}")
        kind = m.lastgroup
        val = m.group(kind)
        if kind == "name" and val.upper() in KEYWORDS:
            kind, val = "kw", val.upper()
        elif kind == "str":
            val = val[1:-1].replace("''", "'")
        out.append((kind, val))
        pos = m.end()
    out.append(("end", None))
    return out


def timestamp_ms(text, date_only):
    """'2025-01-31' / '2025-01-31 13:05:00' -> epoch ms, read as UTC."""
    m = TS.match(text.strip())
    if not m or (date_only and m.group(4)):
        raise WhereError(f"bad {'DATE' if date_only else 'TIMESTAMP'} literal {text!r}")
    y, mo, d, h, mi, s, frac = (m.group(i) for i in range(1, 8))
    try:
        secs = calendar.timegm((int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0)))
        if not (1 <= int(mo) <= 12 and 1 <= int(d) <= calendar.monthrange(int(y), int(mo))[1]):
            raise ValueError
    except ValueError:
        raise WhereError(f"invalid date {text!r}") from None
    return secs * 1000 + (int((frac or "0").ljust(6, "0")) // 1000)


class Parser:
    """Recursive descent over the tokens into tuples:
    ("lit", value, type) ("field", name, type) ("cmp", op, a, b)
    ("in", a, (values...), neg) ("null", a, neg) ("like", a, pattern, neg)
    ("between", a, lo, hi, neg) ("and", a, b) ("or", a, b) ("not", a)."""

    def __init__(self, text, fields):
        self.toks = tokenize(text)
        self.i = 0
        self.fields = fields  # lower-case name -> (canonical name, type)

    def peek(self, k=0):
        return self.toks[self.i + k]

    def take(self, kind=None, val=None):
        t = self.toks[self.i]
        if (kind and t[0] != kind) or (val is not None and t[1] != val):
            want = val or kind
            raise WhereError(f"expected {want}, got {t[1] if t[1] is not None else 'end'}")
        self.i += 1
        return t

    def accept(self, kind, val=None):
        t = self.toks[self.i]
        if t[0] == kind and (val is None or t[1] == val):
            self.i += 1
            return True
        return False

    def parse(self):
        node = self.expr()
        if self.peek()[0] != "end":
            raise WhereError(f"unexpected {self.peek()[1]!r}")
        return node

    def expr(self):
        node = self.term()
        while self.accept("kw", "OR"):
            node = ("or", node, self.term())
        return node

    def term(self):
        node = self.factor()
        while self.accept("kw", "AND"):
            node = ("and", node, self.factor())
        return node

    def factor(self):
        if self.accept("kw", "NOT"):
            return ("not", self.factor())
        if self.accept("op", "("):
            node = self.expr()
            self.take("op", ")")
            return node
        left = self.operand()
        neg = self.accept("kw", "NOT")
        t = self.peek()
        if t == ("kw", "IN"):
            self.take()
            self.take("op", "(")
            vals = [self.literal()]
            while self.accept("op", ","):
                vals.append(self.literal())
            self.take("op", ")")
            for v in vals:
                same_type(left, v)
            return ("in", left, tuple(v[1] for v in vals), neg)
        if t == ("kw", "LIKE"):
            self.take()
            pat = self.take("str")[1]
            if left[2] != STR:
                raise WhereError("LIKE needs a text operand")
            return ("like", left, pat, neg)
        if t == ("kw", "BETWEEN"):
            self.take()
            lo = self.operand()
            self.take("kw", "AND")
            hi = self.operand()
            same_type(left, lo)
            same_type(left, hi)
            return ("between", left, lo, hi, neg)
        if t == ("kw", "IS") and not neg:
            self.take()
            isneg = self.accept("kw", "NOT")
            self.take("kw", "NULL")
            return ("null", left, isneg)
        if neg:
            raise WhereError("NOT must precede IN, LIKE or BETWEEN here")
        if t[0] == "op" and t[1] in CMP_OPS:
            self.take()
            right = self.operand()
            same_type(left, right)
            return ("cmp", "<>" if t[1] == "!=" else t[1], left, right)
        raise WhereError(f"expected a comparison after {left[1]!r}")

    def literal(self):
        node = self.operand()
        if node[0] != "lit":
            raise WhereError("IN takes literals only")
        return node

    def operand(self):
        kind, val = self.take()
        if kind == "num":
            return ("lit", number(val), NUM)
        if kind == "op" and val == "-":
            return ("lit", -number(self.take("num")[1]), NUM)
        if kind == "str":
            return ("lit", val, STR)
        if kind == "kw" and val in ("DATE", "TIMESTAMP"):
            return ("lit", timestamp_ms(self.take("str")[1], val == "DATE"), DATE)
        if kind == "name":
            if self.peek() == ("op", "("):
                raise WhereError(f"functions are not supported: {val}()")
            try:
                name, typ = self.fields[val.lower()]
            except KeyError:
                raise WhereError(f"unknown field {val!r}") from None
            return ("field", name, typ)
        raise WhereError(f"unexpected {val!r}")


def number(text):
    f = float(text)
    return int(text) if text.isdigit() else f


def same_type(a, b):
    if a[2] != b[2]:
        raise WhereError(f"type mismatch: {a[1]!r} ({a[2]}) vs {b[1]!r} ({b[2]})")


# --------------------------------------------------------------------------
# Evaluation: each node compiles to a function row -> True/False/None.
def _value(node, fold):
    if node[0] == "lit":
        v = fold(node[1]) if node[2] == STR else node[1]
        return lambda row: v
    name = node[1]
    if node[2] == STR:
        return lambda row: (None if row[name] is None else fold(row[name]))
    return lambda row: row[name]


_CMP = {"=": lambda a, b: a == b, "<>": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _neg(fn, neg):
    if not neg:
        return fn

    def inv(row):
        r = fn(row)
        return None if r is None else not r
    return inv


def _compile(node, fold):
    kind = node[0]
    if kind in ("and", "or"):
        a, b = _compile(node[1], fold), _compile(node[2], fold)
        decisive = kind == "or"          # the value that decides alone: False for AND, True for OR

        def f_junction(row):
            x = a(row)
            if x is decisive:
                return decisive
            y = b(row)
            if y is decisive:
                return decisive
            return None if (x is None or y is None) else not decisive
        return f_junction
    if kind == "not":
        return _neg(_compile(node[1], fold), True)
    if kind == "cmp":
        op, a, b = _CMP[node[1]], _value(node[2], fold), _value(node[3], fold)

        def f_cmp(row):
            x, y = a(row), b(row)
            return None if x is None or y is None else op(x, y)
        return f_cmp
    if kind == "null":
        v = _value(node[1], fold)
        return _neg(lambda row: v(row) is None, node[2])
    if kind == "in":
        v = _value(node[1], fold)
        vals = frozenset(fold(x) if node[1][2] == STR else x for x in node[2])

        def f_in(row):
            x = v(row)
            return None if x is None else x in vals
        return _neg(f_in, node[3])
    if kind == "like":
        v = _value(node[1], fold)
        rx = re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c)
                                for c in fold(node[2])), re.S)

        def f_like(row):
            x = v(row)
            return None if x is None else rx.fullmatch(x) is not None
        return _neg(f_like, node[3])
    if kind == "between":
        v, lo, hi = (_value(n, fold) for n in node[1:4])

        def f_between(row):
            x, a, b = v(row), lo(row), hi(row)
            return None if None in (x, a, b) else a <= x <= b
        return _neg(f_between, node[4])
    raise AssertionError(kind)


def _uses_field(node):
    kind = node[0]
    if kind in ("field", "lit"):
        return kind == "field"
    if kind == "in":
        return _uses_field(node[1])
    return any(_uses_field(n) for n in node[1:] if isinstance(n, tuple))


def _oid_bounds(node, oid):
    """(lo, hi) inclusive bounds on the OID implied by the AND-ed top level,
    or None; used only to narrow the rows scanned, never to decide."""
    lo, hi = -math.inf, math.inf
    stack = [node]
    while stack:
        n = stack.pop()
        if n[0] == "and":
            stack += [n[1], n[2]]
        elif n[0] == "cmp" and {n[2][0], n[3][0]} == {"field", "lit"}:
            op, f, v = n[1], n[2], n[3]
            if f[0] == "lit":
                f, v = v, f
                op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
            if f[1] != oid:
                continue
            v = v[1]
            if op in (">", ">="):
                lo = max(lo, math.floor(v) + 1 if op == ">" else math.ceil(v))
            elif op in ("<", "<="):
                hi = min(hi, math.ceil(v) - 1 if op == "<" else math.floor(v))
            elif op == "=":
                lo, hi = max(lo, v), min(hi, v)
        elif n[0] == "between" and not n[4] and n[1][0] == "field" and n[1][1] == oid \
                and n[2][0] == n[3][0] == "lit":
            lo, hi = max(lo, math.ceil(n[2][1])), min(hi, math.floor(n[3][1]))
        elif n[0] == "in" and not n[3] and n[1][0] == "field" and n[1][1] == oid:
            lo, hi = max(lo, min(n[2])), min(hi, max(n[2]))
    return None if (lo, hi) == (-math.inf, math.inf) else (lo, hi)


class Where:
    def __init__(self, text, fields, oid=None, fold=None):
        self.text = text
        self.ast = Parser(text, fields).parse()
        self.canon = repr(self.ast)
        fold = fold or (lambda s: s)
        self._fn = _compile(self.ast, fold)
        self.always = False
        self.never = False
        if not _uses_field(self.ast):
            r = self._fn({}) is True
            self.always, self.never = r, not r
        self.oid_bounds = _oid_bounds(self.ast, oid) if oid else None

    def match(self, row):
        return self._fn(row) is True


def compile_where(text, fields, oid=None, collation="binary"):
    """FIELDS: {lower-case name: (canonical name, NUM|STR|DATE)}.  COLLATION
    "binary" compares text exactly; "ci" like SQL Server's default
    (case-insensitive, trailing blanks ignored)."""
    fold = (lambda s: s.rstrip(" ").casefold()) if collation == "ci" else None
    return Where(text if text and text.strip() else "1=1", fields, oid, fold)
