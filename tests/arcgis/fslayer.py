"""fslayer.py - one FeatureServer layer or table of the emulator: its fields,
its rows (one immutable Snapshot per data generation), its edit dates and
the mutations that move them, and its metadata documents (ARCGIS.md 3.1,
7.2).  No HTTP here.

Rows are dicts keyed by the canonical field names, in field order, sorted
by object id; values are already in their JSON form: ids and text as str
(whitespace kept: "  " is not null), integers and doubles as numbers, dates
as integer epoch milliseconds, null as None.
"""
import calendar
import csv
import datetime as dt
import math
import random
import threading
import time

import sqlwhere

TYPES = ["OID", "SmallInteger", "Integer", "BigInteger", "Single", "Double", "String", "Date",
         "DateOnly", "TimeOnly", "TimestampOffset", "GUID", "GlobalID", "Geometry", "Blob", "Raster", "XML"]
INT_TYPES = {"esriFieldTypeOID", "esriFieldTypeSmallInteger", "esriFieldTypeInteger", "esriFieldTypeBigInteger"}
FLOAT_TYPES = {"esriFieldTypeSingle", "esriFieldTypeDouble"}
WEB_MERCATOR = {"wkid": 102100, "latestWkid": 3857}
WGS84 = {"wkid": 4326, "latestWkid": 4326}
R_MERC = 6378137.0
CURRENT_VERSION = 11.4
DEFAULT_EDIT_MS = 1764547200000      # 2025-12-01T00:00:00Z: fixed, so documents are reproducible
DEFAULT_SCHEMA_MS = 1704067200000    # 2024-01-01T00:00:00Z


def esri_type(name):
    """'String' or 'esriFieldTypeString' -> 'esriFieldTypeString'."""
    short = name.removeprefix("esriFieldType")
    if short not in TYPES:
        raise ValueError(f"unknown field type {name!r}")
    return "esriFieldType" + short


class Field:
    def __init__(self, name, type, alias=None, length=None, nullable=True, editable=True, domain=None):
        self.name = name
        self.type = esri_type(type)
        self.alias = alias if alias is not None else name
        if self.type == "esriFieldTypeString" and length is None:
            length = 255
        self.length = length
        self.nullable = nullable and self.type != "esriFieldTypeOID"
        self.editable = editable and self.type != "esriFieldTypeOID"
        self.domain = domain

    @classmethod
    def of(cls, spec):
        return spec if isinstance(spec, Field) else cls(**spec)

    @property
    def category(self):
        if self.type in INT_TYPES or self.type in FLOAT_TYPES:
            return sqlwhere.NUM
        return sqlwhere.DATE if self.type == "esriFieldTypeDate" else sqlwhere.STR

    def set_doc(self):
        """The field as a FeatureSet (query response) lists it."""
        d = {"name": self.name, "type": self.type, "alias": self.alias, "sqlType": "sqlTypeOther"}
        if self.length is not None:
            d["length"] = self.length
        d["domain"] = self.domain
        d["defaultValue"] = None
        return d

    def layer_doc(self):
        """The field as the layer document lists it."""
        d = self.set_doc()
        d["nullable"] = self.nullable
        d["editable"] = self.editable
        return d

    def coerce(self, v, empty_is_null=False):
        """An input value (JSON, CSV text, datetime) -> the stored JSON form."""
        if v is None or (v == "" and (empty_is_null or self.type != "esriFieldTypeString")):
            return None
        t = self.type
        if t in INT_TYPES:
            return int(v) if isinstance(v, int) or str(v).lstrip("-").isdigit() else int(float(v))
        if t in FLOAT_TYPES:
            return float(v)
        if t == "esriFieldTypeDate":
            return date_ms(v)
        return v if isinstance(v, str) else str(v)


def date_ms(v):
    """Epoch ms from an int, a datetime (naive = UTC), ISO text or the Hub
    CSV text `8/2/2025 4:16:00 PM`."""
    if isinstance(v, bool):
        raise ValueError("bool is not a date")
    if isinstance(v, (int, float)):
        return int(v)
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)
        return calendar.timegm(v.timetuple()) * 1000 + v.microsecond // 1000
    s = str(v).strip()
    if s.lstrip("-").isdigit():
        return int(s)
    if "/" in s:
        d, _, rest = s.partition(" ")
        mo, day, y = (int(x) for x in d.split("/"))
        h = mi = sec = 0
        if rest:
            clock, _, ampm = rest.partition(" ")
            h, mi, sec = (int(x) for x in (clock.split(":") + ["0"])[:3])
            if ampm.upper() in ("AM", "PM"):
                h = h % 12 + (12 if ampm.upper() == "PM" else 0)
        return calendar.timegm((y, mo, day, h, mi, sec)) * 1000
    return sqlwhere.timestamp_ms(s.replace("T", " ").rstrip("Z"), False)


def mercator(lon, lat):
    """WGS84 degrees -> Web Mercator (EPSG:3857 / 102100) metres."""
    x = math.radians(lon) * R_MERC
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * R_MERC
    return x, y


class Snapshot:
    """One generation of a layer's rows; never modified once built."""

    def __init__(self, rows, oid, geometry, generation):
        self.rows = rows
        self.generation = generation
        self.oids = [r[oid] for r in rows] if oid else list(range(len(rows)))
        self.geoms = [geometry_of(r, geometry) for r in rows] if geometry else None
        self.cache = {}
        self.lock = threading.RLock()   # a build may use another cached value

    def cached(self, key, build):
        with self.lock:
            if key not in self.cache:
                self.cache[key] = build()
            return self.cache[key]


def geometry_of(row, g):
    """(lon, lat, x, y) of a row, or None for a missing or (0, 0) point."""
    lon, lat = row.get(g["lon"]), row.get(g["lat"])
    if lon is None or lat is None or (lon == 0 and lat == 0):
        return None
    if g.get("x"):
        x, y = row.get(g["x"]), row.get(g["y"])
        if x is None or y is None:
            return None
    else:
        x, y = mercator(lon, lat)
    return (lon, lat, x, y)


class Layer:
    """A layer (kind "Feature Layer", point geometry) or table (kind "Table").

    FIELDS: Field objects or dicts {name, type, alias, length, ...}.  ROWS:
    dicts; names are matched case-insensitively, missing ones are null, and
    rows without an object id get START_OID, START_OID+1, ...
    GEOMETRY (layers): {"lon": field, "lat": field} - the WGS84 attributes
    the point comes from - plus optionally {"x": field, "y": field, "sr":
    {...}} when the native coordinates are carried in the rows too; by
    default the native reference is Web Mercator computed from lon/lat.
    CLOCK: a callable giving epoch seconds (the emulator's Clock.time).
    Other options: COLLATION "binary" (exact text comparisons) or "ci" (SQL
    Server's: case-insensitive, trailing blanks ignored); EMPTY_FIELDS: list
    `fields` even in an empty result; HUB_OPTIONS for the Hub CSV."""

    def __init__(self, service, id, name, fields, rows=(), *, kind=None, oid_field=None, geometry=None,
                 max_record_count=2000, standard_max_record_count=32000, tile_max_record_count=8000,
                 item_id=None, editing_info=None, start_oid=1, collation="binary", empty_fields=False,
                 empty_is_null=False, description="", time_reference=None, hub_options=None,
                 clock=time.time, seed=0, typed=False):
        self.service, self.id, self.name = service, int(id), name
        self.fields = [Field.of(f) for f in fields]
        self.by_lower = {f.name.lower(): f for f in self.fields}
        oids = [f.name for f in self.fields if f.type == "esriFieldTypeOID"]
        self.oid = oid_field or (oids[0] if oids else None)
        if self.oid and self.oid.lower() not in self.by_lower:
            raise ValueError(f"objectIdField {self.oid!r} is not a field")
        self.kind = kind or ("Feature Layer" if geometry else "Table")
        self.geometry = geometry if self.kind == "Feature Layer" else None
        self.native_sr = dict((geometry or {}).get("sr") or WEB_MERCATOR)
        self.max_record_count = max_record_count
        self.standard_max_record_count = standard_max_record_count
        self.tile_max_record_count = tile_max_record_count
        self.item_id = item_id or "%032x" % random.Random(f"item:{service}").getrandbits(128)
        self.hub_options = dict(hub_options or {})   # header: name|alias, tz: the CSV dates' zone
        self.collation = collation
        self.empty_fields = empty_fields
        self.description = description
        self.time_reference = time_reference
        self.clock = clock
        self.seed = seed
        self.rng = random.Random(f"reload:{seed}:{service}/{id}")
        self.lock = threading.Lock()
        self.generation = 0
        self.editing = dict(editing_info or {"lastEditDate": DEFAULT_EDIT_MS,
                                             "schemaLastEditDate": DEFAULT_SCHEMA_MS,
                                             "dataLastEditDate": DEFAULT_EDIT_MS})
        # TYPED: the rows are already complete dicts in field order with
        # stored values and object ids (layers.py), so they are used as they are
        self.snap = self._build(list(rows) if typed else self.normalize(rows, start_oid, empty_is_null))
        self._initial = (list(self.fields), self.snap, dict(self.editing))

    @property
    def key(self):
        return f"{self.service}/{self.id}"

    # ---- rows --------------------------------------------------------------
    def normalize(self, rows, start_oid=1, empty_is_null=False):
        out, next_oid = [], start_oid
        for r in rows:
            low = {k.lower(): v for k, v in r.items()}
            unknown = set(low) - set(self.by_lower)
            if unknown:
                raise ValueError(f"{self.key}: unknown fields {sorted(unknown)}")
            row = {f.name: f.coerce(low.get(f.name.lower()), empty_is_null) for f in self.fields}
            if self.oid and row[self.oid] is None:
                row[self.oid] = next_oid
            if self.oid:
                next_oid = max(next_oid, row[self.oid] + 1)
            out.append(row)
        return out

    def _build(self, rows):
        if self.oid:
            rows = sorted(rows, key=lambda r: r[self.oid])
            if any(a[self.oid] == b[self.oid] for a, b in zip(rows, rows[1:])):
                raise ValueError(f"{self.key}: duplicate object ids")
        self.generation += 1
        return Snapshot(rows, self.oid, self.geometry, self.generation)

    def snapshot(self):
        with self.lock:
            return self.snap

    def where_fields(self):
        return {k: (f.name, f.category) for k, f in self.by_lower.items()}

    def compile_where(self, text):
        return sqlwhere.compile_where(text, self.where_fields(), self.oid, self.collation)

    # ---- edit dates and mutations -------------------------------------------
    def _stamp(self, *keys):
        """Set the edit dates KEYS to now (strictly later than before, and
        equal to each other, so a data edit has dataLastEditDate == lastEditDate)."""
        t = max(int(self.clock() * 1000), *(self.editing.get(k, 0) + 1 for k in keys))
        for k in keys:
            self.editing[k] = t

    def _commit(self, rows):
        self.snap = self._build(rows)
        self._stamp("dataLastEditDate", "lastEditDate")

    def max_oid(self):
        return self.snap.oids[-1] if self.snap.rows and self.oid else 0

    def reload(self, gap=None, shuffle=True):
        """The publisher's truncate-and-append: identical content, rows in a
        new order under new, higher object ids; the data stamps move."""
        with self.lock:
            rows = [dict(r) for r in self.snap.rows]
            if shuffle:
                self.rng.shuffle(rows)
            base = self.max_oid() + 1 + (len(rows) if gap is None else gap)
            for i, r in enumerate(rows):
                if self.oid:
                    r[self.oid] = base + i
            self._commit(rows)

    def insert(self, rows):
        """New rows (object ids after the current maximum)."""
        with self.lock:
            new = self.normalize(rows, self.max_oid() + 1)
            self._commit(list(self.snap.rows) + new)
            return [r[self.oid] for r in new] if self.oid else []

    def delete(self, oids=None, n=None):
        """Delete rows by object id, or the last N rows."""
        with self.lock:
            rows = self.snap.rows
            if oids is None:
                keep = rows[:max(0, len(rows) - (n or 1))]
            else:
                gone = set(oids)
                keep = [r for r in rows if r[self.oid] not in gone]
            self._commit(list(keep))
            return len(rows) - len(keep)

    def update(self, oid, values):
        """Change some values of one row in place (same object id)."""
        with self.lock:
            rows = list(self.snap.rows)
            i = self.snap.oids.index(oid)
            row = dict(rows[i])
            for k, v in values.items():
                f = self.by_lower[k.lower()]
                row[f.name] = f.coerce(v)
            rows[i] = row
            self._commit(rows)

    def add_field(self, spec, value=None):
        """A schema change: a new field at the end; the schema stamps move."""
        with self.lock:
            f = Field.of(spec)
            self.fields.append(f)
            self.by_lower[f.name.lower()] = f
            rows = [dict(r, **{f.name: f.coerce(value)}) for r in self.snap.rows]
            self.snap = self._build(rows)
            self._stamp("schemaLastEditDate", "lastEditDate")

    def touch(self):
        """A metadata-only change: only lastEditDate moves."""
        with self.lock:
            self._stamp("lastEditDate")

    def restore(self):
        with self.lock:
            fields, snap, editing = self._initial
            self.fields = list(fields)
            self.by_lower = {f.name.lower(): f for f in self.fields}
            self.snap = self._build(snap.rows)
            self.editing = dict(editing)
            self.rng = random.Random(f"reload:{self.seed}:{self.key}")

    def mutate(self, op, **kw):
        """op: reload | insert (rows or n copies of existing rows with a
        changed id) | delete (oids or n) | update (oid, values) | add_field
        (field, value) | touch."""
        if op == "insert" and "rows" not in kw:
            n = int(kw.get("n", 1))
            src = self.snapshot().rows
            rows = []
            for i in range(n):
                r = {k: v for k, v in src[i % len(src)].items() if k != self.oid}
                rows.append(r)
            return self.insert(rows)
        fn = {"reload": self.reload, "insert": self.insert, "delete": self.delete, "update": self.update,
              "add_field": self.add_field, "touch": self.touch}[op]
        return fn(**kw)

    # ---- documents ----------------------------------------------------------
    def extent(self, snap):
        def build():
            pts = [g for g in (snap.geoms or ()) if g]
            if not pts:
                return None
            xs, ys = [g[2] for g in pts], [g[3] for g in pts]
            return {"xmin": min(xs), "ymin": min(ys), "xmax": max(xs), "ymax": max(ys),
                    "spatialReference": self.native_sr}
        return snap.cached("extent", build)

    def document(self, no_pagination=False, no_oid=False):
        """The layer document (`.../FeatureServer/<id>?f=json`)."""
        snap = self.snapshot()
        oid = None if no_oid else self.oid
        d = {"currentVersion": CURRENT_VERSION, "id": self.id, "name": self.name, "type": self.kind,
             "serviceItemId": self.item_id, "isView": False, "isUpdatableView": False,
             "sourceSchemaChangesAllowed": True, "displayField": oid or self.fields[0].name,
             "description": self.description, "copyrightText": "", "defaultVisibility": True,
             "editingInfo": dict(self.editing)}
        if self.geometry:
            d["geometryType"] = "esriGeometryPoint"
            d["minScale"] = d["maxScale"] = 0
            d["extent"] = self.extent(snap) or {"xmin": "NaN", "ymin": "NaN", "xmax": "NaN", "ymax": "NaN",
                                                "spatialReference": self.native_sr}
        if self.time_reference:
            d["dateFieldsTimeReference"] = self.time_reference
        d.update({
            "allowGeometryUpdates": False, "hasAttachments": False, "htmlPopupType": "esriServerHTMLPopupTypeNone",
            "hasM": False, "hasZ": False, "objectIdField": oid,
            "uniqueIdField": {"name": oid, "isSystemMaintained": True} if oid else None,
            "globalIdField": "", "typeIdField": "",
            "fields": [f.layer_doc() for f in self.fields if not (no_oid and f.name == self.oid)],
            "types": [], "templates": [],
            "supportedQueryFormats": "JSON, geoJSON, PBF", "hasStaticData": False,
            "maxRecordCount": self.max_record_count,
            "standardMaxRecordCount": self.standard_max_record_count,
            "tileMaxRecordCount": self.tile_max_record_count, "maxRecordCountFactor": 1,
            "capabilities": "Query", "useStandardizedQueries": True, "supportsStatistics": True,
            "supportsAdvancedQueries": True,
            "advancedQueryCapabilities": {
                "supportsPagination": not no_pagination, "supportsOrderBy": True, "supportsStatistics": True,
                "supportsDistinct": True, "supportsPaginationOnAggregatedQueries": not no_pagination,
                "useStandardizedQueries": True, "supportsReturningQueryExtent": True,
                "supportsQueryWithDistance": bool(self.geometry)},
        })
        return d

    def summary(self):
        """The short entry the service document lists."""
        d = {"id": self.id, "name": self.name, "parentLayerId": -1, "defaultVisibility": True,
             "subLayerIds": None, "minScale": 0, "maxScale": 0}
        if self.geometry:
            d["geometryType"] = "esriGeometryPoint"
        return d


def service_document(name, layers, description=""):
    """`.../<name>/FeatureServer?f=json` for the layers and tables of NAME."""
    geo = [ly for ly in layers if ly.geometry]
    tables = [ly for ly in layers if not ly.geometry]
    sr = geo[0].native_sr if geo else WEB_MERCATOR
    ext = None
    for ly in geo:
        e = ly.extent(ly.snapshot())
        if e and ext is None:
            ext = dict(e)
        elif e:
            ext = {"xmin": min(ext["xmin"], e["xmin"]), "ymin": min(ext["ymin"], e["ymin"]),
                   "xmax": max(ext["xmax"], e["xmax"]), "ymax": max(ext["ymax"], e["ymax"]),
                   "spatialReference": sr}
    d = {"currentVersion": CURRENT_VERSION, "serviceItemId": layers[0].item_id if layers else "",
         "serviceDescription": description, "hasVersionedData": False, "supportsDisconnectedEditing": False,
         "hasStaticData": False, "hasSharedDomains": False,
         "maxRecordCount": max((ly.max_record_count for ly in layers), default=2000),
         "supportedQueryFormats": "JSON, geoJSON, PBF", "supportsVCSProjection": False,
         "supportedExportFormats": "csv,shapefile,sqlite,geoPackage,filegdb,featureCollection,geojson,excel",
         "capabilities": "Query", "description": description, "copyrightText": "",
         "spatialReference": sr, "initialExtent": ext, "fullExtent": ext, "allowGeometryUpdates": False,
         "units": "esriMeters", "syncEnabled": False,
         "layers": [ly.summary() for ly in geo], "tables": [ly.summary() for ly in tables]}
    return d


def read_csv_rows(path, encoding="utf-8-sig", header="name", fields=None):
    """Rows of a CSV file as dicts.  HEADER "alias": the header carries
    field aliases (mapped back to names through FIELDS)."""
    with open(path, newline="", encoding=encoding) as f:
        rows = list(csv.DictReader(f))
    if header == "alias" and fields:
        amap = {Field.of(x).alias.lower(): Field.of(x).name for x in fields}
        rows = [{amap.get(k.lower(), k): v for k, v in r.items()} for r in rows]
    return rows
