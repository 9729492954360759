"""fsquery.py - the `/query` operation of a FeatureServer layer (ARCGIS.md
2.2-2.3, 4, 7.3): parameters, filtering, ordering, paging with
exceededTransferLimit as the real server sets it, counts, ids, statistics,
and the f=json / pjson / geojson bodies.  No HTTP here: Query(layer,
params) parses (raising QueryError), .run(fired) answers bytes.

FIRED maps a quirk kind to the rule that fired for this request (quirks.py);
the query-shaping kinds are read here: short_page, empty_page, ignore_count,
ignore_offset, empty_after_first, legacy_flag, unstable_order, unsorted_ids,
stat_case, no_pagination, no_oid, result_type.
"""
import bisect
import json
import math
import random

import fslayer
import sqlwhere

FORMATS = ("json", "pjson", "geojson")
MERCATOR_WKIDS = {102100, 3857, 102113, 900913}
STAT_TYPES = ("count", "sum", "min", "max", "avg", "stddev", "var")


class QueryError(Exception):
    """An ArcGIS error: HTTP 200 with {"error": {code, message, details}}."""
    reason = None

    def __init__(self, code, message, details=()):
        super().__init__(message)
        self.code, self.message, self.details = code, message, list(details)

    def body(self):
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def bad_query(reason):
    """ARCGIS.md 7.3: the message family AGOL uses for a bad where/outFields;
    REASON (not in the body, which AGOL keeps vague) goes to /__log."""
    e = QueryError(400, "Unable to complete operation.", ["Unable to perform query operation."])
    e.reason = reason
    return e


def encode(obj, f="json"):
    if f == "pjson":
        return json.dumps(obj, ensure_ascii=False, indent=2).encode()
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def truthy(params, name, default=False):
    v = params.get(name.lower())
    if v is None or v == "":
        return default
    return v.strip().lower() == "true"


def int_param(params, name):
    v = params.get(name.lower(), "").strip()
    if v == "":
        return None
    try:
        n = int(v)
    except ValueError:
        raise QueryError(400, "Invalid or missing input parameters.", [f"'{name}' parameter is invalid"]) from None
    if n < 0:
        raise QueryError(400, "Invalid or missing input parameters.", [f"'{name}' parameter is invalid"])
    return n


def parse_sr(text, layer):
    """outSR -> the output spatialReference dict, or None for native."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        wkid = json.loads(text)
        if isinstance(wkid, dict):
            wkid = wkid.get("latestWkid") or wkid.get("wkid")
        wkid = int(wkid)
    except (ValueError, TypeError):
        raise QueryError(400, "Invalid or missing input parameters.", ["'outSR' parameter is invalid"]) from None
    if wkid in (layer.native_sr.get("wkid"), layer.native_sr.get("latestWkid")):
        return None
    if wkid == 4326:
        return fslayer.WGS84
    if wkid in MERCATOR_WKIDS:
        return fslayer.WEB_MERCATOR
    raise QueryError(400, "Invalid or missing input parameters.", [f"outSR {wkid} is not supported by the emulator"])


class Query:
    def __init__(self, layer, params):
        """PARAMS: lower-case names -> text (GET query and POST form alike)."""
        self.layer = layer
        p = self.params = params
        self.f = (p.get("f") or "html").strip().lower()
        if self.f not in FORMATS:
            raise QueryError(400, "Invalid format", [f"'f' parameter value '{self.f}' is not supported"])
        for unsupported in ("geometry", "groupbyfieldsforstatistics", "having", "quantizationparameters"):
            if p.get(unsupported, "").strip():
                raise QueryError(400, "Unable to complete operation.",
                                 [f"'{unsupported}' is not supported by the emulator"])
        if truthy(p, "returnDistinctValues"):
            raise QueryError(400, "Unable to complete operation.", ["returnDistinctValues is not supported"])
        try:
            self.where = layer.compile_where(p.get("where", ""))
        except sqlwhere.WhereError as e:
            raise bad_query(str(e)) from None
        self.object_ids = None
        if p.get("objectids", "").strip():
            try:
                self.object_ids = frozenset(int(x) for x in p["objectids"].split(",") if x.strip())
            except ValueError:
                raise QueryError(400, "Invalid or missing input parameters.",
                                 ["'objectIds' parameter is invalid"]) from None
        self.out_fields = self._fields(p.get("outfields", ""))
        self.order = self._order(p.get("orderbyfields", ""))
        self.offset = int_param(p, "resultOffset")
        self.count = int_param(p, "resultRecordCount")
        self.paging = self.offset is not None or self.count is not None
        self.count_only = truthy(p, "returnCountOnly")
        self.extent_only = truthy(p, "returnExtentOnly")
        self.ids_only = truthy(p, "returnIdsOnly") and not (self.count_only or self.extent_only)
        self.geometry = bool(layer.geometry) and truthy(p, "returnGeometry", True)
        self.out_sr = parse_sr(p.get("outsr"), layer)
        self.stats = self._stats(p.get("outstatistics", ""))
        self.cap = layer.max_record_count
        self.limit = min(self.count or self.cap, self.cap)

    def check(self, fired):
        """The checks and caps that quirks change; raises QueryError."""
        rt = (self.params.get("resulttype") or "").strip().lower()
        if "result_type" in fired and rt in ("standard", "tile"):
            ly = self.layer
            self.cap = ly.standard_max_record_count if rt == "standard" else ly.tile_max_record_count
            self.limit = min(self.count or self.cap, self.cap)
        if self.offset is not None and not self.count_only and not self.ids_only:
            if "no_pagination" in fired:
                raise QueryError(400, "Pagination is not supported.")
            if "no_oid" in fired and not self.order:
                raise QueryError(400, "Pagination request requires either orderBy field or the "
                                      "layer/table needs to have OID Field")

    def _field(self, name):
        f = self.layer.by_lower.get(name.strip().lower())
        if f is None:
            raise bad_query(f"unknown field {name!r}")
        return f

    def _fields(self, text):
        names = [x.strip() for x in text.split(",") if x.strip()]
        if not names:
            oid = self.layer.oid or self.layer.fields[0].name
            return [self.layer.by_lower[oid.lower()]]
        if "*" in names:
            return None  # every field, in layer order
        out, seen = [], set()
        for n in names:
            f = self._field(n)
            if f.name not in seen:
                seen.add(f.name)
                out.append(f)
        return out

    def _order(self, text):
        out = []
        for part in (x.strip() for x in text.split(",")):
            if not part:
                continue
            words = part.split()
            if len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
                raise bad_query(f"bad orderByFields {part!r}")
            out.append((self._field(words[0]), len(words) == 2 and words[1].upper() == "DESC"))
        return out

    def _stats(self, text):
        if not text.strip():
            return None
        try:
            specs = json.loads(text)
            assert isinstance(specs, list) and specs
            out = []
            for s in specs:
                kind = s["statisticType"].lower()
                assert kind in STAT_TYPES
                f = self._field(s["onStatisticField"])
                name = s.get("outStatisticFieldName") or f"{kind.upper()}_{f.name}"
                out.append((kind, f, name))
            return out
        except (ValueError, KeyError, TypeError, AssertionError, AttributeError):
            raise QueryError(400, "Unable to complete operation.", ["'outStatistics' parameter is invalid"]) from None

    @property
    def page_size(self):
        return None if (self.count_only or self.extent_only or self.ids_only or self.stats) else self.limit

    def key(self):
        """What decides the answer, canonically (pre-rendered pages, CDN)."""
        names = None if self.out_fields is None else tuple(f.name for f in self.out_fields)
        return (self.layer.key, self.f, self.where.canon, self.object_ids and tuple(sorted(self.object_ids)),
                names, tuple((f.name, d) for f, d in self.order), self.offset, self.count, self.count_only,
                self.ids_only, self.extent_only, self.geometry, self.out_sr and self.out_sr["wkid"],
                self.stats and tuple((k, f.name, n) for k, f, n in self.stats))

    # ---- selection ----------------------------------------------------------
    def matching(self, snap):
        """Indexes of the matching rows in object-id order."""
        w = self.where
        if w.never:
            return []
        lo, hi = 0, len(snap.rows)
        if w.oid_bounds:
            a, b = w.oid_bounds
            lo = bisect.bisect_left(snap.oids, a) if a != -math.inf else 0
            hi = bisect.bisect_right(snap.oids, b) if b != math.inf else len(snap.rows)
        if self.object_ids is not None:
            pos = snap.cached("oid_pos", lambda: {o: i for i, o in enumerate(snap.oids)})
            cand = sorted(pos[o] for o in self.object_ids if o in pos and lo <= pos[o] < hi)
        else:
            cand = range(lo, hi)
        if w.always:
            return list(cand)
        rows, match = snap.rows, w.match
        return [i for i in cand if match(rows[i])]

    def _sort_key(self, f):
        fold = (lambda s: s.rstrip(" ").casefold()) if (self.layer.collation == "ci" and
                                                         f.category == sqlwhere.STR) else None
        name = f.name

        def key(row):
            v = row[name]
            if v is None:
                return (0, 0)
            return (1, fold(v) if fold else v)
        return key

    def _ordered(self, snap, fired):
        def build():
            idx = self.matching(snap)
            if self.order and not (len(self.order) == 1 and self.order[0][0].name == self.layer.oid
                                   and not self.order[0][1]):
                rows = snap.rows
                for f, desc in reversed(self.order):   # stable sorts, last key first
                    k = self._sort_key(f)
                    idx.sort(key=lambda i: k(rows[i]), reverse=desc)
            return idx
        wkey = ("ordered", self.where.canon, self.object_ids, tuple((f.name, d) for f, d in self.order))
        idx = snap.cached(wkey, build)
        rule = fired.get("unstable_order")
        if rule and (self.offset or 0) > 0:
            rng = random.Random(f"{rule.params.get('seed', 0)}:{rule.fired}")
            if not self.order:
                idx = list(idx)
                rng.shuffle(idx)
            elif rule.params.get("ties"):
                idx = self._shuffle_ties(snap, idx, rng)
        return idx

    def _shuffle_ties(self, snap, idx, rng):
        keys = [self._sort_key(f) for f, _ in self.order]
        out, run, prev = [], [], object()
        for i in idx:
            k = tuple(kf(snap.rows[i]) for kf in keys)
            if k != prev and run:
                rng.shuffle(run)
                out += run
                run = []
            run.append(i)
            prev = k
        rng.shuffle(run)
        return out + run

    # ---- answers ------------------------------------------------------------
    def run(self, snap, fired=None):
        """The response body (bytes) for this query over SNAP."""
        fired = fired or {}
        self.check(fired)
        idx = self._ordered(snap, fired)
        if self.count_only or self.extent_only:
            body = {"count": len(idx)} if self.count_only else {}
            if self.extent_only:
                body.update(self._extent(snap, idx))
            return encode(body, self.f)
        if self.ids_only:
            return self._ids(snap, idx, fired)
        if self.stats:
            return self._statistics(snap, idx, fired)
        return self.features(snap, idx, fired)

    def _extent(self, snap, idx):
        """returnExtentOnly: {"extent": ...} in outSR, or GeoJSON's {"bbox": [...]} in WGS84."""
        pts = [snap.geoms[i] for i in idx if snap.geoms and snap.geoms[i]]
        if self.f == "geojson":
            lon, lat = [g[0] for g in pts], [g[1] for g in pts]
            return {"bbox": [min(lon), min(lat), max(lon), max(lat)] if pts else None}
        xy = [tuple(self.point(g).values()) for g in pts]
        sr = self.out_sr or self.layer.native_sr
        if not xy:
            return {"extent": {"xmin": "NaN", "ymin": "NaN", "xmax": "NaN", "ymax": "NaN", "spatialReference": sr}}
        xs, ys = [p[0] for p in xy], [p[1] for p in xy]
        return {"extent": {"xmin": min(xs), "ymin": min(ys), "xmax": max(xs), "ymax": max(ys), "spatialReference": sr}}

    def _ids(self, snap, idx, fired):
        ids = [snap.oids[i] for i in idx]
        rule = fired.get("unsorted_ids")
        if rule:
            random.Random(f"{rule.params.get('seed', 0)}:{rule.fired}").shuffle(ids)
        return encode({"objectIdFieldName": self.layer.oid, "objectIds": ids}, self.f)

    def _statistics(self, snap, idx, fired):
        rows = snap.rows
        attrs, fields = {}, []
        for kind, f, name in self.stats:
            vals = [rows[i][f.name] for i in idx if rows[i][f.name] is not None]
            n = len(vals)
            if kind == "count":
                v, t = n, "esriFieldTypeInteger"
            elif kind in ("min", "max"):
                v = (min if kind == "min" else max)(vals) if vals else None
                t = "esriFieldTypeInteger" if f.type == "esriFieldTypeOID" else f.type
            elif kind == "sum":
                v, t = (sum(vals) if vals else None), "esriFieldTypeDouble"
            else:
                mean = sum(vals) / n if n else None
                var = sum((x - mean) ** 2 for x in vals) / (n - 1) if n > 1 else None
                v = {"avg": mean, "var": var, "stddev": var and math.sqrt(var)}[kind]
                t = "esriFieldTypeDouble"
            if "stat_case" in fired:
                name = name.swapcase()
            attrs[name] = v
            fields.append({"name": name, "type": t, "alias": name, "sqlType": "sqlTypeOther",
                           "domain": None, "defaultValue": None})
        body = {"displayFieldName": "", "fieldAliases": {x["name"]: x["alias"] for x in fields},
                "fields": fields, "features": [{"attributes": attrs}]}
        return encode(body, self.f)

    def page(self, idx, fired):
        """(indexes of this page, exceededTransferLimit or None to omit it)."""
        offset = 0 if ("ignore_offset" in fired) else (self.offset or 0)
        limit = self.limit
        rule = fired.get("ignore_count")
        if rule:
            limit = int(rule.params.get("size", self.cap))
        page = idx[offset:offset + limit]
        if "empty_after_first" in fired and offset > 0 and self.geometry:
            return [], (False if self.paging else None)
        rule = fired.get("short_page")
        if rule and page:     # keeps one row at least, so a client that advances by rows received ends
            page = page[:max(1, len(page) - int(rule.params.get("drop", 3)))]
        if "empty_page" in fired:
            page = []
        exceeded = offset + len(page) < len(idx)
        if not self.paging and not exceeded:
            return page, None
        if "legacy_flag" in fired and not exceeded:
            return page, None
        return page, exceeded

    def attributes(self, row):
        if self.out_fields is None:
            return row
        return {f.name: row[f.name] for f in self.out_fields}

    def point(self, g):
        """The geometry of a feature in the requested reference system."""
        if self.out_sr is None:
            return {"x": g[2], "y": g[3]}
        if self.out_sr is fslayer.WGS84:
            return {"x": g[0], "y": g[1]}
        x, y = fslayer.mercator(g[0], g[1])
        return {"x": x, "y": y}

    def features(self, snap, idx, fired):
        page, exceeded = self.page(idx, fired)
        rows, geoms, layer = snap.rows, snap.geoms, self.layer
        attrs = self.attributes
        if self.f == "geojson":
            return self.geojson(snap, page, exceeded)
        feats = []
        if self.geometry:
            for i in page:
                g = geoms[i]
                feats.append({"attributes": attrs(rows[i]), "geometry": self.point(g)} if g
                             else {"attributes": attrs(rows[i])})
        else:
            feats = [{"attributes": attrs(rows[i])} for i in page]
        body = {"objectIdFieldName": layer.oid,
                "uniqueIdField": {"name": layer.oid, "isSystemMaintained": True},
                "globalIdFieldName": ""}
        if layer.geometry:
            body["geometryType"] = "esriGeometryPoint"
            body["spatialReference"] = self.out_sr or layer.native_sr
        if feats or layer.empty_fields:
            body["fields"] = [f.set_doc() for f in (self.out_fields or layer.fields)]
        if exceeded is not None:
            body["exceededTransferLimit"] = exceeded
        body["features"] = feats
        return encode(body, self.f)

    def geojson(self, snap, page, exceeded):
        rows, geoms, oid = snap.rows, snap.geoms, self.layer.oid
        feats = []
        for i in page:
            g = geoms[i] if (self.geometry and geoms) else None
            feats.append({"type": "Feature", "id": rows[i][oid] if oid else i,
                          "geometry": {"type": "Point", "coordinates": [g[0], g[1]]} if g else None,
                          "properties": self.attributes(rows[i])})
        body = {"type": "FeatureCollection", "features": feats}
        if exceeded:
            body["properties"] = {"exceededTransferLimit": True}
        return encode(body)


def feature_body(layer, oid, params):
    """`.../FeatureServer/<id>/<oid>?f=json`: {"feature": {...}}."""
    snap = layer.snapshot()
    i = bisect.bisect_left(snap.oids, oid)
    if not layer.oid or i >= len(snap.oids) or snap.oids[i] != oid:
        raise QueryError(404, "Requested object not found.", [])
    q = Query(layer, {"f": params.get("f", "json"), "outfields": "*", "outsr": params.get("outsr", "")})
    if q.f == "geojson":
        raise QueryError(400, "Invalid format", [])
    feat = {"attributes": snap.rows[i]}
    if layer.geometry and snap.geoms[i]:
        feat["geometry"] = q.point(snap.geoms[i])
    return encode({"feature": feat}, q.f)
